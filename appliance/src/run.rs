//! `ferrocap run`: the appliance. Reads the config, starts logging and
//! DPDK, one worker per RX queue on its own EAL lcore, one writer thread per
//! output, and runs until SIGTERM/SIGINT or `--duration`. Then it stops
//! receiving, drains the rings, closes every dump (valid for tshark), logs a
//! summary (`APPL-102-K`, `APPL-888-I`) and prints it to stderr.
//!
//! The outputs (the packet-logging expression and the `[[dump]]`s) are
//! owned by a [`ferrocap_control::ControlPlane`]; unless `[control] enabled
//! = false`, its HTTP server (API, `/metrics`, web page) is started from the
//! main thread once the workers are taken, so its threads inherit the main
//! lcore's affinity and never run on a worker's core. The main loop
//! publishes the ports' counters (`rte_eth_stats`, link) to it every 250 ms,
//! and the server is stopped before the rings are drained.
//!
//! Also [`live_capture`], the one-shot `ferrocap capture --eal` over every
//! port the EAL arguments create.
//!
//! The summary on stderr ends with one machine-readable line,
//! `ferrocap-summary {JSON}`: `duration_s`, totals (`rx`, `matched`,
//! `written`, `dropped`), `ports` (`rte_eth_stats` per port: `ipackets`,
//! `imissed`, `ierrors`, `rx_nombuf`), `counters` (the runtime
//! [`Snapshot`]: per worker and per output, each output with its
//! receive-to-write `latency_ns`: count, sum, p50, p99, p999, max and
//! cumulative buckets) and `identities_ok` (whether
//! `rx = matched + unmatched` per worker and `matched = written + drops` per
//! output held). `--summary-json FILE` writes the same JSON to FILE.
// Without DPDK only --check-config works; the rest is unused.
#![cfg_attr(not(feature = "dpdk"), allow(dead_code))]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
#[cfg(feature = "dpdk")]
use std::sync::atomic::{AtomicBool, Ordering};
#[cfg(feature = "dpdk")]
use std::sync::Arc;
use std::time::Duration;
#[cfg(feature = "dpdk")]
use std::time::Instant;

use clap::Args;
use ferrocap_dataplane::runtime::Snapshot;
use serde::Serialize;

use crate::config::Config;

/// Arguments of `ferrocap run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The configuration file (see deploy/demo.toml). Relative file paths in
    /// a `[[port]] vdev` (rx_pcap=, tx_pcap=) are resolved against the
    /// config file's directory; dump paths and the log directory against
    /// the working directory. Without a [log] section, ferrocap run logs to
    /// the files ./run/ferrocap-stats and ./run/ferrocap-debug (level 5).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Stop after SECS seconds (default: run until SIGTERM or SIGINT).
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    duration: Option<Duration>,
    /// Only check the configuration: exit 0 when valid, print the
    /// `Line N, char M:` error and exit 2 when not.
    #[arg(long)]
    check_config: bool,
    /// Also write the exit summary as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    summary_json: Option<PathBuf>,
}

/// One port's DPDK counters in the summary.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct PortSummary {
    name: String,
    id: u16,
    ipackets: u64,
    ibytes: u64,
    imissed: u64,
    ierrors: u64,
    rx_nombuf: u64,
}

/// What `ferrocap run` prints and writes on exit.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct RunSummary {
    duration_s: f64,
    reason: String,
    rx: u64,
    matched: u64,
    written: u64,
    dropped: u64,
    identities_ok: bool,
    identities_error: Option<String>,
    ports: Vec<PortSummary>,
    /// CPU seconds each worker thread used (100 Hz resolution).
    worker_cpu_s: Vec<f64>,
    /// Packets received per CPU-second of the workers, in millions: the
    /// rate a dedicated core would sustain, whatever else shared it.
    mpps_per_worker_cpu_s: f64,
    counters: Snapshot,
}

impl RunSummary {
    fn new(duration: Duration, reason: &str, ports: Vec<PortSummary>, counters: Snapshot) -> Self {
        let check = counters.check(true);
        RunSummary {
            duration_s: duration.as_secs_f64(),
            reason: reason.to_owned(),
            rx: counters.rx(),
            matched: counters.matched(),
            written: counters.all_outputs().map(|o| o.written).sum(),
            dropped: counters.all_outputs().map(|o| o.dropped()).sum(),
            identities_ok: check.is_ok(),
            identities_error: check.err(),
            ports,
            worker_cpu_s: Vec::new(),
            mpps_per_worker_cpu_s: 0.0,
            counters,
        }
    }

    fn set_worker_cpu(&mut self, cpu: Vec<f64>) {
        let total: f64 = cpu.iter().sum();
        self.mpps_per_worker_cpu_s = if total > 0.0 {
            self.rx as f64 / total / 1e6
        } else {
            0.0
        };
        self.worker_cpu_s = cpu;
    }

    fn print(&self, summary_json: Option<&Path>) {
        eprintln!(
            "ferrocap: stopped ({}) after {:.1} s: {} packets received, {} matched, {} written, {} dropped",
            self.reason, self.duration_s, self.rx, self.matched, self.written, self.dropped
        );
        for p in &self.ports {
            eprintln!(
                "  port {} ({}): ipackets {} imissed {} ierrors {} rx_nombuf {}",
                p.id, p.name, p.ipackets, p.imissed, p.ierrors, p.rx_nombuf
            );
        }
        for w in &self.counters.workers {
            let cpu = self.worker_cpu_s.get(w.worker).copied().unwrap_or(0.0);
            eprintln!(
                "  worker {}: rx {} matched {} unmatched {} (cpu {cpu:.2} s)",
                w.worker, w.rx, w.matched, w.unmatched
            );
        }
        if self.duration_s > 0.0 {
            eprintln!(
                "  rate: {:.3} Mpps wall clock, {:.3} Mpps per worker CPU-second",
                self.rx as f64 / self.duration_s / 1e6,
                self.mpps_per_worker_cpu_s
            );
        }
        for o in self.counters.all_outputs() {
            eprintln!(
                "  {} {}: matched {} written {} dropped queue_full {} write_error {} limit {}{}; latency p50 {:.1} ms p99 {:.1} ms max {:.1} ms",
                o.kind,
                o.name,
                o.matched,
                o.written,
                o.dropped_queue_full,
                o.dropped_write_error,
                o.dropped_limit,
                match (&o.error, o.failed) {
                    (Some(e), _) => format!(" (FAILED: {e})"),
                    (None, true) => " (FAILED)".to_owned(),
                    (None, false) => String::new(),
                },
                o.latency_ns.p50 as f64 / 1e6,
                o.latency_ns.p99 as f64 / 1e6,
                o.latency_ns.max as f64 / 1e6,
            );
        }
        if let Some(e) = &self.identities_error {
            eprintln!("  accounting error: {e}");
        }
        let json = serde_json::to_string(self).unwrap_or_default();
        eprintln!("ferrocap-summary {json}");
        if let Some(path) = summary_json {
            if let Err(e) = std::fs::write(path, format!("{json}\n")) {
                eprintln!("ferrocap: cannot write {}: {e}", path.display());
            }
        }
    }
}

/// `ferrocap run`.
pub(crate) fn run(args: &RunArgs) -> ExitCode {
    let loaded = match Config::load(&args.config) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ferrocap: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check_config {
        println!("{}: configuration OK", args.config.display());
        return ExitCode::SUCCESS;
    }
    run_loaded(
        &args.config,
        loaded,
        args.duration,
        args.summary_json.as_deref(),
    )
}

/// Parses `--duration SECS`: a number of seconds, fractions allowed, from
/// 0 up to about 584 years (what a `Duration` holds).
pub(crate) fn parse_seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if secs.is_nan() || secs < 0.0 {
        return Err(format!("`{text}` is not a number of seconds (0 or more)"));
    }
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("`{text}` seconds is too long (at most {} s)", u64::MAX))
}

#[cfg(not(feature = "dpdk"))]
fn run_loaded(
    _path: &Path,
    _loaded: crate::config::Loaded,
    _duration: Option<Duration>,
    _summary: Option<&Path>,
) -> ExitCode {
    eprintln!("ferrocap: this binary was built without DPDK (feature `dpdk`)");
    ExitCode::FAILURE
}

/// Rewrites relative `rx_pcap=`/`tx_pcap=` paths of a vdev string against `base`.
fn resolve_vdev(vdev: &str, base: &Path) -> String {
    vdev.split(',')
        .map(|part| match part.split_once('=') {
            Some((key @ ("rx_pcap" | "tx_pcap"), value)) if Path::new(value).is_relative() => {
                format!("{key}={}", base.join(value).display())
            }
            _ => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The directory relative vdev paths resolve against.
fn config_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

#[cfg(feature = "dpdk")]
mod live {
    //! The DPDK part of `run` and `capture --eal`.

    use super::*;
    use crate::config::{parse_mac, DirectionRuleConfig, Loaded};
    use ferrocap_control::{
        ControlOptions, ControlPlane, DumpRequest, DumpSource, PortStat, Rotation, Server,
    };
    use ferrocap_dataplane::affinity;
    use ferrocap_dataplane::expr::{self, Direction, Directory, IfIndex};
    use ferrocap_dataplane::log::{catalog, LogConfig, Logger, OutputKind as LogOutput};
    use ferrocap_dataplane::runtime::{
        Classifier, DirectionRule, DumpSpec, InterfaceRule, OutputKind, OutputSpec, Runtime,
        RuntimeConfig, Worker,
    };
    use ferrocap_dataplane::source::dpdk::{
        DpdkError, Eal, MbufBurst, Mempool, Port, PortConfig, RxQueue,
    };
    use ferrocap_dataplane::source::{PacketSource, SourceError};
    use std::net::SocketAddr;

    /// Data room of an mbuf: DPDK's default 2048 + 128 headroom.
    const MBUF_DATA_ROOM: u16 = 2048 + 128;
    /// Per-lcore mempool cache.
    const MBUF_CACHE: u32 = 256;

    /// Registers SIGTERM and SIGINT to set the returned flag (an orderly
    /// stop); a second one while stopping exits at once with status 128 +
    /// the signal's number, as a shell reports a process that signal killed
    /// (143 for SIGTERM, 130 for SIGINT).
    fn signal_flag() -> Arc<AtomicBool> {
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            let registered =
                signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&flag))
                    .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&flag)));
            if let Err(e) = registered {
                eprintln!("ferrocap: cannot handle signal {sig}: {e}");
            }
        }
        flag
    }

    fn port_summary(port: &Port<'_>, name: &str) -> PortSummary {
        let st = port.stats().unwrap_or_default();
        PortSummary {
            name: name.to_owned(),
            id: port.id(),
            ipackets: st.ipackets,
            ibytes: st.ibytes,
            imissed: st.imissed,
            ierrors: st.ierrors,
            rx_nombuf: st.rx_nombuf,
        }
    }

    /// The classifier for the config's interfaces, ports named by DPDK id.
    fn classifier(loaded: &Loaded, port_ids: &[(String, u16)]) -> Classifier {
        let dir: &Directory = &loaded.directory;
        let names: Vec<String> = dir.interfaces().iter().map(|i| i.name.clone()).collect();
        let mut rules = Vec::new();
        for i in &loaded.config.interfaces {
            let name = i.name.get_ref();
            let Some(iif) = dir.interface_index(name) else {
                continue;
            };
            let port_name = i.port.as_deref().unwrap_or(name);
            let Some(&(_, port)) = port_ids.iter().find(|(n, _)| n == port_name) else {
                continue;
            };
            let direction = match i.direction {
                DirectionRuleConfig::In => DirectionRule::Fixed(Direction::In),
                DirectionRuleConfig::Out => DirectionRule::Fixed(Direction::Out),
                DirectionRuleConfig::Unknown => DirectionRule::Fixed(Direction::Unknown),
                DirectionRuleConfig::ByMac => {
                    match i.mac.as_ref().map(|m| parse_mac(m.get_ref())) {
                        Some(Ok(mac)) => DirectionRule::ByMac(mac),
                        _ => DirectionRule::Fixed(Direction::Unknown),
                    }
                }
            };
            rules.push(InterfaceRule {
                iif: IfIndex(iif.0),
                port,
                vlan: i.vlan,
                direction,
            });
        }
        Classifier::new(names, rules)
    }

    /// The directory API-created dumps go to: `[control] dump_dir`, else
    /// the directory of the first `[[dump]]` path, else `dumps/` beside
    /// the config file.
    fn dump_dir(path: &Path, loaded: &Loaded) -> PathBuf {
        if let Some(d) = &loaded.config.control.dump_dir {
            return d.clone();
        }
        loaded
            .config
            .dumps
            .iter()
            .filter_map(|d| d.path.as_deref())
            .filter_map(Path::parent)
            .find(|p| !p.as_os_str().is_empty())
            .map_or_else(|| config_dir(path).join("dumps"), Path::to_path_buf)
    }

    /// The control plane over `runtime`, with the config's packet-logging
    /// expression and dumps registered (and started unless `start = false`).
    fn control_plane(
        path: &Path,
        loaded: &Loaded,
        runtime: &Runtime,
        logger: &Logger,
    ) -> Result<ControlPlane, String> {
        let log_cfg = log_config(loaded);
        let stats_log = (log_cfg.output == LogOutput::File).then(|| {
            log_cfg
                .dir
                .join(ferrocap_dataplane::log::config::STATS_FILE)
        });
        let plane = ControlPlane::new(
            runtime.clone(),
            loaded.directory.clone(),
            Some(logger.clone()),
            ControlOptions {
                token: loaded.config.control.token.clone(),
                dump_dir: dump_dir(path, loaded),
                stats_log,
                version: env!("CARGO_PKG_VERSION").to_owned(),
                dpdk_version: ferrocap_dataplane::source::dpdk::DPDK_VERSION.to_owned(),
            },
        );
        if let Some(e) = &loaded.config.packet_logging.expression {
            plane
                .set_packet_logging(e.get_ref())
                .map_err(|err| format!("packet logging expression \"{}\": {err}", e.get_ref()))?;
        }
        for d in &loaded.config.dumps {
            let name = d.name.get_ref();
            plane
                .create_dump(
                    DumpRequest {
                        name: name.clone(),
                        expression: d.expression.get_ref().clone(),
                        format: Some(d.format.get_ref().clone()),
                        snaplen: Some(d.snaplen),
                        rotation: Some(Rotation {
                            max_file_bytes: d.max_file_bytes,
                            max_file_seconds: d.max_file_seconds,
                            max_files: d.max_files,
                        }),
                        start: Some(d.start),
                        path: d.path.clone(),
                    },
                    DumpSource::Config,
                )
                .map_err(|e| format!("dump \"{name}\": {e}"))?;
        }
        Ok(plane)
    }

    /// The ports' counters for the control plane.
    fn port_stats(ports: &[Port<'_>], ids: &[(String, u16)]) -> Vec<PortStat> {
        ports
            .iter()
            .zip(ids)
            .map(|(p, (name, id))| {
                let st = p.stats().unwrap_or_default();
                PortStat {
                    name: name.clone(),
                    port_id: *id,
                    rx_packets: st.ipackets,
                    rx_bytes: st.ibytes,
                    imissed: st.imissed,
                    rx_nombuf: st.rx_nombuf,
                    rx_errors: st.ierrors,
                    link_up: p.link().is_ok_and(|l| l.up),
                }
            })
            .collect()
    }

    /// Starts the HTTP server when `[control] enabled`; a failure to bind
    /// is logged (`CTLH-110`) and capture goes on without it.
    fn start_server(loaded: &Loaded, plane: &ControlPlane) -> Option<Server> {
        let c = &loaded.config.control;
        if !c.enabled {
            return None;
        }
        let bind: SocketAddr = match c.bind.get_ref().parse() {
            Ok(a) => a,
            Err(e) => {
                eprintln!(
                    "ferrocap: control plane not started: {}: {e}",
                    c.bind.get_ref()
                );
                return None;
            }
        };
        match Server::start(plane, bind) {
            Ok(s) => {
                eprintln!(
                    "ferrocap: control plane on http://{}/ (metrics /metrics)",
                    s.local_addr()
                );
                Some(s)
            }
            Err(e) => {
                eprintln!("ferrocap: control plane not started: {e}; capture goes on without it");
                None
            }
        }
    }

    /// Runs each worker on its lcore with its source; the main lcore waits
    /// until `done` says to stop, then stops the runtime. Returns why it
    /// stopped.
    /// utime + stime of the calling thread in seconds (from /proc, at the
    /// kernel's 100 Hz tick), 0 when unknown.
    fn thread_cpu_seconds() -> f64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
        // Fields after the command name, which is in parentheses.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let ticks: u64 = rest
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|f| f.parse::<u64>().ok())
            .sum();
        ticks as f64 / 100.0
    }

    fn run_workers<'p, S>(
        eal: &Eal,
        runtime: &Runtime,
        jobs: Vec<(Worker, S)>,
        cpu: &[std::sync::Mutex<f64>],
        mut done: impl FnMut() -> Option<String>,
    ) -> Result<String, DpdkError>
    where
        S: PacketSource<Burst = MbufBurst<'p>> + Send,
    {
        let lcores: Vec<_> = eal.worker_lcores().collect();
        let (reason, exits) = eal.scope(|s| {
            for ((mut worker, mut source), lcore) in jobs.into_iter().zip(lcores) {
                let slot = cpu.get(worker.index());
                let launched = s.launch(lcore, move || {
                    let cpu_start = thread_cpu_seconds();
                    let result = worker.run(&mut source);
                    if let Some(Ok(mut c)) = slot.map(|m| m.lock()) {
                        *c = thread_cpu_seconds() - cpu_start;
                    }
                    let rc = match result {
                        Ok(()) => 0,
                        Err(e) => {
                            eprintln!("ferrocap: worker {}: {e}", worker.index());
                            1
                        }
                    };
                    drop(worker);
                    rc
                });
                if let Err(e) = launched {
                    runtime.stop();
                    return Err(e);
                }
            }
            let reason = loop {
                if let Some(r) = done() {
                    break r;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            runtime.stop();
            Ok(reason)
        });
        for exit in exits {
            if let Err(e) = exit.result {
                eprintln!("ferrocap: worker on lcore {}: {e}", exit.lcore);
            }
        }
        reason
    }

    fn log_config(loaded: &Loaded) -> LogConfig {
        loaded.config.log.clone().unwrap_or_else(|| LogConfig {
            output: LogOutput::File,
            dir: PathBuf::from("run"),
            ..LogConfig::default()
        })
    }

    /// `ferrocap run` after the config was loaded.
    pub(super) fn run_loaded(
        path: &Path,
        loaded: Loaded,
        duration: Option<Duration>,
        summary_json: Option<&Path>,
    ) -> ExitCode {
        let log_cfg = log_config(&loaded);
        if log_cfg.output == LogOutput::File {
            if let Err(e) = std::fs::create_dir_all(&log_cfg.dir) {
                eprintln!(
                    "ferrocap: cannot create log directory {}: {e}",
                    log_cfg.dir.display()
                );
                return ExitCode::FAILURE;
            }
        }
        let (logger, guard) = match Logger::start(log_cfg) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("ferrocap: cannot start logging: {e}");
                return ExitCode::FAILURE;
            }
        };
        logger.log(
            0,
            catalog::APPL_START,
            &[
                &env!("CARGO_PKG_VERSION"),
                &std::process::id(),
                &path.display(),
            ],
        );
        // SIGUSR1/SIGUSR2 step the level, SIGHUP reopens the log files (for
        // logrotate); without this their default action would end the process.
        let signals = match ferrocap_dataplane::log::signals::install(logger.clone()) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("ferrocap: cannot handle SIGHUP/SIGUSR1/SIGUSR2: {e}");
                None
            }
        };
        let code = match run_dpdk(path, &loaded, duration, summary_json, &logger) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                logger.log(0, catalog::APPL_FATAL, &[&e]);
                eprintln!("ferrocap: {e}");
                ExitCode::FAILURE
            }
        };
        if let Some(s) = signals {
            s.stop();
        }
        if let Err(e) = guard.shutdown() {
            eprintln!("ferrocap: logging: {e}");
        }
        code
    }

    fn run_dpdk(
        path: &Path,
        loaded: &Loaded,
        duration: Option<Duration>,
        summary_json: Option<&Path>,
        logger: &Logger,
    ) -> Result<(), String> {
        let cfg = &loaded.config;
        let base = config_dir(path);
        let mut eal_args = cfg.eal.args.clone();
        for p in &cfg.ports {
            if let Some(v) = &p.vdev {
                eal_args.push(format!("--vdev={}", resolve_vdev(v, &base)));
            }
        }
        let before_eal = affinity::thread_ids().unwrap_or_default();
        let eal = Eal::init(&eal_args).map_err(|e| {
            logger.log(0, catalog::DPDE_INIT_FAILED, &[&e]);
            format!("DPDK EAL initialisation failed: {e}")
        })?;
        keep_off_worker_cores(&before_eal);
        let port_count = eal.ports().count();
        logger.log(0, catalog::DPDE_INIT, &[&eal.lcore_count(), &port_count]);
        if cfg.ports.is_empty() {
            return Err("the config has no [[port]]".into());
        }
        let queues: usize = cfg.ports.iter().map(|p| usize::from(p.rx_queues)).sum();
        let lcores = eal.worker_lcores().count();
        if lcores < queues {
            return Err(format!(
                "{queues} RX queues need {queues} worker lcores, but the EAL has {lcores} \
                 (the main lcore runs no worker): add cores to [eal] args, e.g. -l 0-{queues} \
                 or --lcores=0@0,1@1,2@0"
            ));
        }
        let mut port_ids = Vec::new();
        for p in &cfg.ports {
            let name = p.name.get_ref();
            let id = eal.port_by_name(name).map_err(|e| {
                let msg = format!(
                    "{e} (ports found: {:?})",
                    eal.ports().map(|p| p.name).collect::<Vec<_>>()
                );
                logger.log(0, catalog::DPDP_CONFIG_FAILED, &[name, &msg]);
                format!("port \"{name}\": {msg}")
            })?;
            port_ids.push((name.clone(), id));
        }
        let mut pools = Vec::new();
        for (i, p) in cfg.ports.iter().enumerate() {
            let pool = Mempool::new(
                &eal,
                &format!("ferrocap{i}"),
                p.pool_size,
                MBUF_CACHE,
                MBUF_DATA_ROOM,
                None,
            )
            .map_err(|e| {
                format!(
                    "port \"{}\": mempool of {} mbufs: {e}",
                    p.name.get_ref(),
                    p.pool_size
                )
            })?;
            pools.push(pool);
        }
        let mut ports = Vec::new();
        for ((p, pool), (name, id)) in cfg.ports.iter().zip(&pools).zip(&port_ids) {
            let pc = PortConfig {
                rx_queues: p.rx_queues,
                rx_desc: p.rx_descriptors,
                promiscuous: true,
                rss: true,
            };
            let mut port = Port::configure(*id, &pc, pool).map_err(|e| {
                logger.log(0, catalog::DPDP_CONFIG_FAILED, &[name, &e]);
                // net_pcap with infinite_rx=1 copies the whole capture into
                // mbufs of this pool when its queue is set up.
                let hint = if p.vdev.as_deref().is_some_and(|v| v.contains("infinite_rx=1")) {
                    format!(
                        " (with infinite_rx=1, pool_size = {} must hold every packet of rx_pcap plus {} descriptors per queue)",
                        p.pool_size, p.rx_descriptors
                    )
                } else {
                    String::new()
                };
                format!("port \"{name}\": {e}{hint}")
            })?;
            port.start()
                .map_err(|e| format!("port \"{name}\": start: {e}"))?;
            if let Ok(link) = port.link() {
                if link.up {
                    let duplex = if link.full_duplex {
                        "full-duplex"
                    } else {
                        "half-duplex"
                    };
                    logger.log(0, catalog::DPDP_UP, &[name, &link.speed_mbps, &duplex]);
                } else {
                    logger.log(0, catalog::DPDP_DOWN, &[name]);
                }
            }
            ports.push(port);
        }

        let runtime = Runtime::new(
            RuntimeConfig {
                workers: queues,
                ring_slots: *cfg.runtime.ring_slots.get_ref() as usize,
                slot_bytes: *cfg.runtime.slot_bytes.get_ref() as usize,
                ..RuntimeConfig::default()
            },
            classifier(loaded, &port_ids),
            Some(logger.clone()),
        )
        .map_err(|e| e.to_string())?;
        let plane = control_plane(path, loaded, &runtime, logger)?;
        plane.set_ports(port_stats(&ports, &port_ids));
        let workers = runtime.workers().map_err(|e| e.to_string())?;
        let mut sources: Vec<RxQueue<'_>> = Vec::new();
        for port in &ports {
            for q in 0..port.rx_queues() {
                sources.push(port.rx_queue(q).map_err(|e| e.to_string())?);
            }
        }
        let lcores: Vec<_> = eal.worker_lcores().collect();
        for ((w, q), lcore) in workers.iter().zip(&sources).zip(&lcores) {
            let port_name = port_ids
                .iter()
                .find(|(_, id)| *id == q.port())
                .map_or("?", |(n, _)| n.as_str());
            logger.log(
                0,
                catalog::DPDW_STARTED,
                &[&w.index(), &lcore.0, &port_name, &q.queue()],
            );
        }
        let jobs: Vec<(Worker, RxQueue<'_>)> = workers.into_iter().zip(sources).collect();
        let term = signal_flag();
        let started = Instant::now();
        eprintln!(
            "ferrocap: running {queues} worker(s) on {} port(s){}; SIGTERM or Ctrl-C stops (twice: at once)",
            ports.len(),
            duration.map_or(String::new(), |d| format!(" for {:.1} s", d.as_secs_f64()))
        );
        let cpu: Vec<std::sync::Mutex<f64>> = (0..queues).map(|_| Default::default()).collect();
        let mut last_counters = Instant::now();
        // Started here, on the main lcore's thread: the server's threads
        // inherit its CPU affinity, so they never run on a worker's core.
        let server = start_server(loaded, &plane);
        let mut last_ports = Instant::now();
        let reason = run_workers(&eal, &runtime, jobs, &cpu, || {
            // The workers are launched before the first call.
            plane.set_ready(true);
            if last_ports.elapsed() >= PORT_STATS_INTERVAL {
                last_ports = Instant::now();
                plane.set_ports(port_stats(&ports, &port_ids));
            }
            if last_counters.elapsed() >= COUNTERS_INTERVAL {
                last_counters = Instant::now();
                log_counters(logger, &runtime.snapshot());
            }
            if term.load(Ordering::Relaxed) {
                Some("signal".to_owned())
            } else if duration.is_some_and(|d| started.elapsed() >= d) {
                Some("duration reached".to_owned())
            } else {
                None
            }
        })
        .map_err(|e| format!("launching workers: {e}"));
        plane.set_ready(false);
        if let Some(s) = server {
            let addr = s.local_addr();
            s.shutdown();
            logger.log(0, catalog::CTLH_STOPPED, &[&addr]);
        }
        let reason = reason?;
        logger.log(0, catalog::APPL_STOP, &[&reason]);
        let elapsed = started.elapsed();
        let port_stats: Vec<PortSummary> = ports
            .iter()
            .zip(&port_ids)
            .map(|(p, (name, _))| port_summary(p, name))
            .collect();
        let snap = runtime.finish(Duration::from_secs(5));
        for w in &snap.workers {
            logger.log(0, catalog::DPDW_STOPPED, &[&w.worker, &w.rx, &w.matched]);
        }
        log_counters(logger, &snap);
        let mut summary = RunSummary::new(elapsed, &reason, port_stats, snap);
        summary.set_worker_cpu(cpu.iter().map(|c| c.lock().map_or(0.0, |c| *c)).collect());
        log_summary(logger, &summary);
        summary.print(summary_json);
        drop(ports);
        drop(pools);
        drop(eal);
        Ok(())
    }

    /// How often the main loop publishes the ports' counters to the control plane.
    const PORT_STATS_INTERVAL: Duration = Duration::from_millis(250);

    /// Moves the threads started before the EAL (the logger's, the signal
    /// thread) onto the main lcore's cores, where the EAL just pinned this
    /// thread, so that nothing but workers runs on worker cores.
    fn keep_off_worker_cores(before_eal: &[i32]) {
        if let Err(e) = affinity::confine_to_current(before_eal) {
            eprintln!(
                "ferrocap: warning: cannot move the logger threads off the worker cores: {e}"
            );
        }
    }

    /// How often `ferrocap run` logs each worker's counters (`MONI-888-I`).
    const COUNTERS_INTERVAL: Duration = Duration::from_secs(60);

    /// One `MONI-888-I` record per worker: RX, MATCHED and the ring drops
    /// of all its outputs.
    fn log_counters(logger: &Logger, snap: &Snapshot) {
        for w in &snap.workers {
            let dropped: u64 = snap
                .outputs
                .iter()
                .filter_map(|o| o.per_worker.get(w.worker))
                .map(|c| c[2])
                .sum();
            let outcome = if dropped == 0 { "ACCEPTED" } else { "FAILED" };
            logger.log(
                0,
                catalog::MONI_COUNTERS,
                &[&w.worker, &w.rx, &w.matched, &dropped, &outcome],
            );
        }
    }

    fn log_summary(logger: &Logger, s: &RunSummary) {
        let secs = format!("{:.1} s", s.duration_s);
        logger.log(
            0,
            catalog::APPL_STOPPED,
            &[&secs, &s.rx, &s.matched, &s.written, &s.dropped],
        );
        let outcome = if s.dropped == 0 && s.identities_ok {
            "ACCEPTED"
        } else {
            "FAILED"
        };
        logger.log(
            0,
            catalog::APPL_SUMMARY,
            &[
                &(s.duration_s as u64),
                &s.rx,
                &s.matched,
                &s.written,
                &s.dropped,
                &outcome,
            ],
        );
    }

    /// Polls several RX queues in turn with one burst: a worker for more
    /// queues than there are lcores (used by the one-shot live capture).
    pub(super) struct RoundRobin<'p> {
        queues: Vec<RxQueue<'p>>,
        next: usize,
    }

    impl<'p> PacketSource for RoundRobin<'p> {
        type Burst = MbufBurst<'p>;

        fn new_burst(&self) -> MbufBurst<'p> {
            MbufBurst::new()
        }

        fn recv_burst(&mut self, out: &mut MbufBurst<'p>) -> Result<usize, SourceError> {
            let n = self.queues.len();
            for _ in 0..n {
                let i = self.next % n.max(1);
                self.next = (i + 1) % n.max(1);
                if let Some(q) = self.queues.get_mut(i) {
                    let got = q.recv(out);
                    if got > 0 {
                        return Ok(got);
                    }
                }
            }
            Ok(0)
        }
    }

    /// See [`super::live_capture`].
    pub(super) fn live_capture(opts: &super::LiveCapture<'_>) -> Result<Snapshot, String> {
        let directory = Directory::builder().build().map_err(|e| e.to_string())?;
        let compiled = expr::compile(opts.expression, &directory)
            .map_err(|e| format!("Line {}, char {}: {}", e.line, e.char, e.message))?;
        let eal_args: Vec<&str> = opts.eal.split_whitespace().collect();
        let before_eal = affinity::thread_ids().unwrap_or_default();
        let eal =
            Eal::init(&eal_args).map_err(|e| format!("DPDK EAL initialisation failed: {e}"))?;
        keep_off_worker_cores(&before_eal);
        let infos: Vec<_> = eal.ports().collect();
        if infos.is_empty() {
            return Err("the EAL arguments create no port (add --vdev=... or a PCI device)".into());
        }
        let lcores = eal.worker_lcores().count();
        if lcores == 0 {
            return Err("the EAL has no worker lcore (use -l 0-1 or more)".into());
        }
        let pool_size = opts.pool_size.unwrap_or(8191 * 2).max(1024);
        let pool = Mempool::new(
            &eal,
            "ferrocap-live",
            pool_size,
            MBUF_CACHE,
            MBUF_DATA_ROOM,
            None,
        )
        .map_err(|e| format!("mempool: {e}"))?;
        let mut ports = Vec::new();
        for info in &infos {
            let mut port = Port::configure(info.id, &PortConfig::default(), &pool).map_err(|e| {
                // As in `run`: net_pcap with infinite_rx=1 copies the whole
                // capture into this pool when its queue is set up.
                let hint = if opts.eal.contains("infinite_rx=1") {
                    format!(
                        " (with infinite_rx=1, the pool of {pool_size} mbufs must hold every packet of rx_pcap plus {} descriptors; raise it with --pool-size)",
                        PortConfig::default().rx_desc
                    )
                } else {
                    String::new()
                };
                format!("port {}: {e}{hint}", info.name)
            })?;
            port.start()
                .map_err(|e| format!("port {}: {e}", info.name))?;
            ports.push(port);
        }
        let workers_n = lcores.min(ports.len());
        let runtime = Runtime::new(
            RuntimeConfig {
                workers: workers_n,
                ..RuntimeConfig::default()
            },
            Classifier::default(),
            None,
        )
        .map_err(|e| e.to_string())?;
        runtime
            .add_output(OutputSpec {
                name: "capture".into(),
                expression: opts.expression.to_owned(),
                matcher: compiled.matcher,
                kind: OutputKind::Dump(DumpSpec {
                    path: opts.output.to_owned(),
                    format: opts.format,
                    snaplen: opts.snaplen,
                    max_file_bytes: None,
                    max_file_seconds: None,
                    max_files: 1,
                    max_packets: opts.count,
                }),
            })
            .map_err(|e| e.to_string())?;
        let mut groups: Vec<Vec<RxQueue<'_>>> = (0..workers_n).map(|_| Vec::new()).collect();
        for (i, port) in ports.iter().enumerate() {
            let q = port.rx_queue(0).map_err(|e| e.to_string())?;
            if let Some(g) = groups.get_mut(i % workers_n) {
                g.push(q);
            }
        }
        let workers = runtime.workers().map_err(|e| e.to_string())?;
        let jobs: Vec<_> = workers
            .into_iter()
            .zip(groups)
            .map(|(w, queues)| (w, RoundRobin { queues, next: 0 }))
            .collect();
        let term = signal_flag();
        let started = Instant::now();
        let tty = std::io::IsTerminal::is_terminal(&std::io::stderr()) && opts.progress;
        let mut last_print = Instant::now();
        let mut last_rx = 0u64;
        let cpu: Vec<std::sync::Mutex<f64>> = (0..workers_n).map(|_| Default::default()).collect();
        let reason = run_workers(&eal, &runtime, jobs, &cpu, || {
            if term.load(Ordering::Relaxed) {
                return Some("signal".into());
            }
            if opts.duration.is_some_and(|d| started.elapsed() >= d) {
                return Some("duration reached".into());
            }
            let snap = runtime.snapshot();
            if snap.outputs.first().is_some_and(|o| o.failed) {
                return Some("dump failed".into());
            }
            if let Some(c) = opts.count {
                if snap.outputs.first().is_some_and(|o| o.matched >= c) {
                    return Some("count reached".into());
                }
            }
            if tty && last_print.elapsed() >= Duration::from_secs(1) {
                let rx = snap.rx();
                let rate = (rx - last_rx.min(rx)) as f64 / last_print.elapsed().as_secs_f64();
                let (m, d) = snap
                    .outputs
                    .first()
                    .map_or((0, 0), |o| (o.matched, o.dropped()));
                eprint!("\rpackets {rx}  rate {rate:.0}/s  matches {m}  drops {d}   ");
                last_print = Instant::now();
                last_rx = rx;
            }
            None
        })
        .map_err(|e| format!("launching workers: {e}"))?;
        if tty {
            eprintln!();
        }
        let stats: Vec<PortSummary> = ports
            .iter()
            .zip(&infos)
            .map(|(p, info)| port_summary(p, &info.name))
            .collect();
        let snap = runtime.finish(Duration::from_secs(5));
        let mut summary = RunSummary::new(started.elapsed(), &reason, stats, snap.clone());
        summary.set_worker_cpu(cpu.iter().map(|c| c.lock().map_or(0.0, |c| *c)).collect());
        summary.print(None);
        drop(ports);
        drop(pool);
        drop(eal);
        Ok(snap)
    }
}

#[cfg(feature = "dpdk")]
use live::run_loaded;

/// Options of the one-shot live capture ([`live_capture`]).
#[derive(Debug, Clone)]
pub(crate) struct LiveCapture<'a> {
    /// EAL arguments, whitespace-separated (`-l 0-1 --vdev=net_pcap0,...`).
    pub eal: &'a str,
    /// The dump file.
    pub output: &'a Path,
    /// pcap or pcapng.
    pub format: ferrocap_dataplane::pcap::DumpFormat,
    /// Bytes kept per packet (0: 262144).
    pub snaplen: u32,
    /// Write exactly this many packets (fewer if the capture stops
    /// earlier), then stop.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// The Kerio expression (no config: interface and group names are unknown).
    pub expression: &'a str,
    /// Mbufs in the pool (default 16382; `net_pcap` with `infinite_rx=1`
    /// needs more than the file's packets).
    pub pool_size: Option<u32>,
    /// Show live progress on stderr when it is a terminal.
    pub progress: bool,
}

/// One-shot live capture from every DPDK port the EAL arguments create,
/// like dpdk-dumpcap but standalone: one RX queue per port, the ports dealt
/// to the worker lcores in turn, one dump. Runs until `count`, `duration`,
/// SIGTERM or SIGINT; prints progress (when stderr is a terminal) and the
/// summary. Exit 0 on success, 2 for a bad expression, 1 otherwise.
pub(crate) fn live_capture(opts: &LiveCapture<'_>) -> ExitCode {
    #[cfg(feature = "dpdk")]
    {
        if let Err(e) = ferrocap_dataplane::expr::parse(opts.expression) {
            eprintln!("ferrocap: Line {}, char {}: {}", e.line, e.char, e.message);
            return ExitCode::from(2);
        }
        match live::live_capture(opts) {
            Ok(snap) => match snap.outputs.first().filter(|o| o.failed) {
                // The one output is the capture: without it there is none.
                Some(o) => {
                    eprintln!(
                        "ferrocap: the capture stopped: {}; {} packets written before",
                        o.error.as_deref().unwrap_or("the dump failed"),
                        o.written
                    );
                    ExitCode::FAILURE
                }
                None => ExitCode::SUCCESS,
            },
            Err(e) => {
                eprintln!("ferrocap: {e}");
                ExitCode::FAILURE
            }
        }
    }
    #[cfg(not(feature = "dpdk"))]
    {
        let _ = opts;
        eprintln!("ferrocap: this binary was built without DPDK (feature `dpdk`)");
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_or_get_a_clear_error() {
        assert_eq!(parse_seconds("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_seconds("0"), Ok(Duration::ZERO));
        for bad in ["1e20", "inf", "-1", "nan", "", "3s"] {
            let e = parse_seconds(bad).expect_err(bad);
            assert!(e.contains(&format!("`{bad}`")), "{bad}: {e}");
        }
    }

    #[test]
    fn vdev_paths_resolve_against_the_config_dir() {
        let base = Path::new("/etc/ferrocap");
        let cases = [
            (
                "net_pcap0,rx_pcap=demo.pcap,infinite_rx=1",
                "net_pcap0,rx_pcap=/etc/ferrocap/demo.pcap,infinite_rx=1",
            ),
            (
                "net_pcap0,rx_pcap=/abs/x.pcap",
                "net_pcap0,rx_pcap=/abs/x.pcap",
            ),
            ("net_null0", "net_null0"),
            (
                "net_pcap1,rx_pcap=a.pcap,tx_pcap=b.pcap",
                "net_pcap1,rx_pcap=/etc/ferrocap/a.pcap,tx_pcap=/etc/ferrocap/b.pcap",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(resolve_vdev(input, base), want);
        }
        assert_eq!(config_dir(Path::new("demo.toml")), Path::new("."));
        assert_eq!(
            config_dir(Path::new("deploy/demo.toml")),
            Path::new("deploy")
        );
    }
}

/// [`live_capture`] in a child process (the EAL starts once per process):
/// the test re-runs this test binary with `FERROCAP_LIVE_OUT` set.
#[cfg(all(test, feature = "dpdk"))]
mod live_tests {
    use super::*;
    use ferrocap_dataplane::pcap::{CaptureReader, DumpFormat};

    const OUT_ENV: &str = "FERROCAP_LIVE_OUT";

    fn demo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/demo.pcap")
    }

    fn count(path: &Path) -> (u64, u64) {
        let mut r = CaptureReader::open(path).expect("open");
        let (mut n, mut syn) = (0, 0);
        while let Some(rec) = r.next_record().expect("record") {
            n += 1;
            let d = ferrocap_dataplane::wire::decode(
                rec.data,
                ferrocap_dataplane::wire::Depth::Transport,
            );
            if d.tcp_flags.is_some_and(|f| f & 0x12 == 0x02) {
                syn += 1;
            }
        }
        (n, syn)
    }

    /// The child: captures SYNs from the demo replay until the port is idle
    /// for the duration.
    #[test]
    fn live_capture_child() {
        let Some(out) = std::env::var_os(OUT_ENV) else {
            return;
        };
        let eal = format!(
            "-l 0-1 --no-huge -m 256 --no-pci --no-telemetry --no-shconf --log-level=lib.eal:warning \
             --file-prefix=ferrocap-live-{} --vdev=net_pcap0,rx_pcap={}",
            std::process::id(),
            demo().display()
        );
        let code = live_capture(&LiveCapture {
            eal: &eal,
            output: Path::new(&out),
            format: DumpFormat::Pcap,
            snaplen: 0,
            count: None,
            duration: Some(Duration::from_secs(2)),
            expression: "tcpfl = SYN -ACK",
            pool_size: None,
            progress: false,
        });
        assert_eq!(code, ExitCode::SUCCESS);
    }

    #[test]
    fn live_capture_writes_the_matching_frames() {
        if std::env::var_os(OUT_ENV).is_some() {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("syn.pcap");
        let exe = std::env::current_exe().expect("test binary");
        let child = std::process::Command::new(exe)
            .args([
                "run::live_tests::live_capture_child",
                "--exact",
                "--nocapture",
            ])
            .env(OUT_ENV, &out)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("child");
        let prefix = format!("ferrocap-live-{}", child.id());
        let child = child.wait_with_output().expect("child output");
        // The EAL leaves an empty runtime directory per file prefix.
        for d in [
            PathBuf::from("/var/run/dpdk"),
            std::env::temp_dir().join("dpdk"),
        ] {
            let _ = std::fs::remove_dir(d.join(&prefix));
        }
        let stderr = String::from_utf8_lossy(&child.stderr);
        assert!(child.status.success(), "{stderr}");
        assert!(stderr.contains("ferrocap-summary {"), "{stderr}");
        let (want_n, want_syn) = count(&demo());
        assert_eq!(want_n, 15_000);
        let (n, syn) = count(&out);
        assert_eq!(n, want_syn);
        assert_eq!(syn, n);
        assert!(stderr.contains(&format!("\"rx\":{want_n}")), "{stderr}");
    }
}
