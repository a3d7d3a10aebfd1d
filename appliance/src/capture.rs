//! `ferrocap capture -r`: offline capture from a pcap/pcapng file, with a
//! packet dump and Kerio packet logging.
//!
//! Promises:
//! - the dump (`-w OUT EXPR`) and packet logging (`--packet-log EXPR`, or
//!   the config's `[packet_logging] expression`) are independent: each has
//!   its own expression, and either may be used alone;
//! - every packet read is counted as skipped (undecodable: the link type is
//!   not Ethernet) or offered to both expressions, runts included (only
//!   interface and direction tests can hold on them); every
//!   packet the dump expression matches is written or the command fails;
//! - every packet the packet-log expression matches yields exactly one
//!   `PFLG-888-I` record in the stats log, except frames without a readable
//!   IP header (a record needs addresses and a protocol): those are counted,
//!   printed and reported as `PFLG-110-W`;
//! - packet records are never dropped for a full log queue: the reading
//!   loop waits for the logger every `queue_len / 2` records; any record
//!   dropped anyway (other threads' messages) is counted in the summary;
//! - the dump writes `DUMP-START` and `DUMP-STOP` statistical records
//!   (`PDMP-880-I`, `PDMP-881-I`) with its counters;
//! - the input is opened once and read strictly in order, so it may be a
//!   pipe or a FIFO; at level 7 a progress message (`APPL-900-D`) is logged
//!   at most once a second while packets arrive;
//! - a truncated input yields the packets it held and a warning; the output
//!   is closed valid for tshark on every path that returns.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use ferrocap_dataplane::expr::{
    self, BatchMeta, Direction, Directory, IfIndex, InterfaceDef, InterfaceKind, Matcher,
    PacketMeta,
};
use ferrocap_dataplane::log::message::{
    Endpoint, Outcome, PacketDirection, PacketRecord, StatRecord,
};
use ferrocap_dataplane::log::{catalog, Component, Level, LogError, Severity};
use ferrocap_dataplane::pcap::{
    CaptureError, CaptureReader, CaptureRecord, CapturedDirection, DumpConfig, DumpFormat,
    DumpWriter, InterfaceInfo, PcapSpan, SpanOutcome, LINKTYPE_ETHERNET,
};
use ferrocap_dataplane::source::BURST_MAX;
use ferrocap_dataplane::wire::{self, Depth, L3};

use crate::applog::{self, AppLog, Ending, LogArgs, LogSetup, LogTotals};
use crate::config::{DirectionRuleConfig, Loaded};

/// Arguments of `ferrocap capture`.
#[derive(Debug, Args)]
pub(crate) struct CaptureArgs {
    /// Input capture file (pcap or pcapng); a pipe or FIFO works too.
    /// Repeat -r to filter several files at once on every core: -w then
    /// names a directory (created if missing) that receives one output per
    /// input, with the input's file name, and -c counts per input.
    #[arg(
        short = 'r',
        long = "read",
        value_name = "IN",
        required_unless_present = "eal",
        conflicts_with = "eal",
        action = clap::ArgAction::Append
    )]
    inputs: Vec<PathBuf>,
    /// Live capture instead of -r: start DPDK with these EAL arguments and
    /// capture from every port they create, e.g.
    /// '-l 0-1 --no-huge -m 256 --no-pci --vdev=net_pcap0,rx_pcap=in.pcap'.
    /// Needs -w OUT EXPR; --config, --interface, --direction and
    /// --packet-log are for offline captures and `ferrocap run`.
    #[arg(long, value_name = "EAL ARGS", requires = "output", allow_hyphen_values = true,
          conflicts_with_all = ["config", "interface", "direction", "packet_log"])]
    eal: Option<String>,
    /// Live capture: stop after SECS seconds (default: at Ctrl-C, or -c).
    #[arg(long, value_name = "SECS", requires = "eal", value_parser = crate::run::parse_seconds)]
    duration: Option<Duration>,
    /// Live capture: mbufs in the receive pool (at least 1024; default
    /// 16382). A `net_pcap` vdev with `infinite_rx=1` holds its whole
    /// `rx_pcap` in mbufs, so the pool must exceed its packet count.
    #[arg(long, value_name = "MBUFS", requires = "eal",
          value_parser = clap::value_parser!(u32).range(1024..))]
    pool_size: Option<u32>,
    /// Dump: write the packets that match EXPR to OUT.
    #[arg(
        short = 'w',
        long = "write",
        value_name = "OUT",
        requires = "expression"
    )]
    output: Option<PathBuf>,
    /// Output format. Default: pcap when OUT ends in `.pcap`, pcapng otherwise.
    #[arg(long, value_name = "FORMAT")]
    format: Option<DumpFormat>,
    /// Config file: interfaces, routes, IP groups and users the expressions
    /// name, `[packet_logging]` and `[log]`.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Interface of packets whose input names none (plain pcap, or a pcapng
    /// interface without if_name).
    #[arg(long, value_name = "NAME")]
    interface: Option<String>,
    /// Direction of packets whose input records none.
    #[arg(long, value_enum, value_name = "in|out")]
    direction: Option<DirectionArg>,
    /// Stop after writing COUNT packets (without -w: after logging COUNT packets).
    #[arg(short = 'c', long = "count", value_name = "COUNT")]
    count: Option<u64>,
    /// Keep at most SNAPLEN bytes of each packet (the original length is kept).
    #[arg(short = 's', long = "snaplen", value_name = "SNAPLEN", default_value_t = 65535,
          value_parser = clap::value_parser!(u32).range(1..=262_144))]
    snaplen: u32,
    /// Packet logging: log every packet that matches this expression as one
    /// PFLG-888-I record in the stats log. Default: the config's
    /// `[packet_logging] expression`, if any.
    #[arg(long = "packet-log", value_name = "EXPR")]
    packet_log: Option<String>,
    #[command(flatten)]
    log: LogArgs,
    /// The Kerio expression selecting the packets written to OUT (only with -w).
    #[arg(value_name = "EXPR", requires = "output")]
    expression: Option<String>,
}

/// `--direction`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum DirectionArg {
    In,
    Out,
}

/// The name of the dump in its `DUMP-START`/`DUMP-STOP` records.
const DUMP_NAME: &str = "capture";
/// The name of the packet log rule in `PFLG` messages.
const PACKET_LOG_NAME: &str = "packet_logging";
/// How often the level-7 progress message is logged while packets arrive.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// How often (in packets read) the loop checks whether the log output
/// stopped under `on_failure = "stop"`.
const FATAL_CHECK_EVERY: u64 = 1024;

/// Why a capture stopped with an error.
#[derive(Debug, thiserror::Error)]
enum RunError {
    /// Reading the input or writing the dump failed.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// The log output failed under `on_failure = "stop"`.
    #[error("the log output failed (on_failure = stop): {0}")]
    LogStopped(String),
}

/// What happened to the packets, for the summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    read: u64,
    skipped: u64,
    /// Matched the dump expression.
    matched: u64,
    /// Did not match the dump expression.
    unmatched: u64,
    written: u64,
    /// Matched the packet-log expression.
    log_matched: u64,
    /// PFLG-888-I records queued.
    logged: u64,
    /// Matched the packet-log expression but have no readable IP header.
    log_no_ip: u64,
}

/// How a capture that did not fail ended.
#[derive(Debug)]
enum Finished {
    /// The input ended (or `-c` was reached).
    Done(Summary),
    /// An expression did not compile (already reported).
    BadExpression,
}

impl Counts {
    /// Adds another input's counts.
    fn add(&mut self, o: &Counts) {
        self.read += o.read;
        self.skipped += o.skipped;
        self.matched += o.matched;
        self.unmatched += o.unmatched;
        self.written += o.written;
        self.log_matched += o.log_matched;
        self.logged += o.logged;
        self.log_no_ip += o.log_no_ip;
    }
}

/// The numbers printed at the end.
#[derive(Debug)]
struct Summary {
    counts: Counts,
    secs: f64,
    /// The dump's output file, format and size, if there was a dump.
    dump: Option<(PathBuf, DumpFormat, u64)>,
    packet_log: bool,
    truncated: bool,
}

/// How packets of one input interface are classified.
#[derive(Debug, Clone)]
struct InputInterface {
    name: Option<String>,
    decodable: bool,
    iif: Option<IfIndex>,
    rule: Rule,
    out_index: Option<u32>,
}

/// A resolved direction rule.
#[derive(Debug, Clone, Copy)]
enum Rule {
    Fixed(Direction),
    ByMac([u8; 6]),
}

/// A record copied out of the reader's buffer.
#[derive(Debug, Default)]
struct OwnedRecord {
    ts_nanos: u64,
    orig_len: u32,
    data: Vec<u8>,
    interface: u32,
    direction: Option<CapturedDirection>,
}

impl OwnedRecord {
    fn copy_from(&mut self, rec: &CaptureRecord<'_>) {
        self.ts_nanos = rec.ts_nanos;
        self.orig_len = rec.orig_len;
        self.data.clear();
        self.data.extend_from_slice(rec.data);
        self.interface = rec.interface;
        self.direction = rec.direction;
    }

    fn as_record(&self) -> CaptureRecord<'_> {
        CaptureRecord {
            ts_nanos: self.ts_nanos,
            orig_len: self.orig_len,
            data: &self.data,
            interface: self.interface,
            direction: self.direction,
        }
    }
}

/// Runs `ferrocap capture` in offline mode; `level` is the global `-d N`.
/// One input of an offline capture and where its matches go.
#[derive(Debug, Clone)]
struct Job {
    input: PathBuf,
    output: Option<PathBuf>,
}

impl CaptureArgs {
    /// The inputs and their outputs. With several inputs, `-w` is a
    /// directory, created here, and each output takes its input's file name.
    fn jobs(&self) -> Result<Vec<Job>, String> {
        if self.inputs.len() <= 1 {
            let input = self.inputs.first().cloned().unwrap_or_else(|| "-".into());
            return Ok(vec![Job {
                input,
                output: self.output.clone(),
            }]);
        }
        let Some(dir) = &self.output else {
            return Ok(self
                .inputs
                .iter()
                .map(|i| Job {
                    input: i.clone(),
                    output: None,
                })
                .collect());
        };
        if dir.is_file() {
            return Err(format!(
                "with several -r inputs, -w names a directory, and {} is a file",
                dir.display()
            ));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the output directory {}: {e}", dir.display()))?;
        let mut jobs: Vec<Job> = Vec::with_capacity(self.inputs.len());
        for input in &self.inputs {
            let Some(name) = input.file_name() else {
                return Err(format!("{} is not a file name", input.display()));
            };
            let output = dir.join(name);
            if let Some(other) = jobs.iter().find(|j| j.output.as_ref() == Some(&output)) {
                return Err(format!(
                    "{} and {} would both be written to {}",
                    other.input.display(),
                    input.display(),
                    output.display()
                ));
            }
            let same = |a: &Path, b: &Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y);
            if same(input, &output) {
                return Err(format!(
                    "the output for {} would overwrite it: choose another -w directory",
                    input.display()
                ));
            }
            jobs.push(Job {
                input: input.clone(),
                output: Some(output),
            });
        }
        Ok(jobs)
    }
}

/// Runs `ferrocap capture`: live with `--eal`, offline with `-r`.
pub(crate) fn run(args: &CaptureArgs, level: Option<Level>) -> ExitCode {
    if let (Some(eal), Some(output), Some(expression)) = (&args.eal, &args.output, &args.expression)
    {
        if args.duration.is_some_and(|d| d.is_zero()) {
            eprintln!("ferrocap: --duration must be a positive number of seconds");
            return ExitCode::from(2);
        }
        return crate::run::live_capture(&crate::run::LiveCapture {
            eal,
            output,
            format: args.format.unwrap_or_else(|| default_format(output)),
            snaplen: args.snaplen,
            count: args.count,
            duration: args.duration,
            expression,
            pool_size: args.pool_size,
            progress: std::io::stderr().is_terminal(),
        });
    }
    run_offline(args, level)
}

/// Runs `ferrocap capture -r`.
fn run_offline(args: &CaptureArgs, level: Option<Level>) -> ExitCode {
    let loaded = match crate::load_config(args.config.as_ref()) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let packet_log = args.packet_log.clone().or_else(|| {
        loaded
            .as_ref()
            .and_then(|l| l.config.packet_logging.expression.as_ref())
            .map(|e| e.get_ref().clone())
    });
    if args.output.is_none() && packet_log.is_none() {
        eprintln!(
            "ferrocap: nothing to do: give -w OUT EXPR to write a dump, or --packet-log EXPR \
             (or a config with [packet_logging] expression) to log packets"
        );
        return ExitCode::from(2);
    }
    let mut setup = LogSetup::new(
        loaded.as_ref().and_then(|l| l.config.log.as_ref()),
        &args.log,
        level,
    );
    // The input may be a FIFO that stays open for days: let the operator
    // change the level and reopen the files.
    setup.signals = true;
    let destination = setup.stats_destination();
    let applog = match AppLog::start(setup) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ferrocap: {e}");
            return ExitCode::from(if matches!(e, LogError::Config(_)) {
                2
            } else {
                1
            });
        }
    };
    applog::log_start(&applog, args.config.as_deref());
    let started = Instant::now();
    let jobs = match args.jobs() {
        Ok(j) => j,
        Err(e) => {
            eprintln!("ferrocap: {e}");
            applog.log(catalog::APPL_STOP, &[&"bad arguments"]);
            let _ = applog.finish(Ending::Failed);
            return ExitCode::from(2);
        }
    };
    let results: Vec<Result<Finished, RunError>> = if jobs.len() == 1 {
        vec![capture(
            args,
            &jobs[0],
            loaded.as_ref(),
            packet_log.as_deref(),
            &applog,
        )]
    } else {
        use rayon::prelude::*;
        jobs.par_iter()
            .map(|job| capture(args, job, loaded.as_ref(), packet_log.as_deref(), &applog))
            .collect()
    };
    let mut code = ExitCode::SUCCESS;
    let mut ending = Ending::Clean;
    let mut summaries: Vec<(&Job, Summary)> = Vec::new();
    let mut total = Summary {
        counts: Counts::default(),
        secs: started.elapsed().as_secs_f64(),
        dump: None,
        packet_log: packet_log.is_some(),
        truncated: false,
    };
    for (job, result) in jobs.iter().zip(results) {
        match result {
            Ok(Finished::Done(s)) => {
                total.counts.add(&s.counts);
                total.truncated |= s.truncated;
                summaries.push((job, s));
            }
            Ok(Finished::BadExpression) => {
                code = ExitCode::from(2);
                ending = Ending::Failed;
            }
            Err(e) => {
                eprintln!("ferrocap: {}: {e}", job.input.display());
                applog.log(catalog::APPL_FATAL, &[&e]);
                if code == ExitCode::SUCCESS {
                    code = ExitCode::from(1);
                }
                ending = Ending::Failed;
            }
        }
    }
    if code == ExitCode::from(2) && summaries.is_empty() {
        applog.log(catalog::APPL_STOP, &[&"bad expression"]);
    } else {
        let reason = if total.truncated {
            "end of input (truncated)"
        } else {
            "end of input"
        };
        applog.log(catalog::APPL_STOP, &[&reason]);
        if !summaries.is_empty() {
            log_summary(&applog, &total);
        }
    }
    let totals = match applog.finish(ending) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ferrocap: {e}");
            return ExitCode::from(1);
        }
    };
    let code = match (&totals.fatal, ending) {
        (Some(why), Ending::Clean) => {
            eprintln!("ferrocap: the log output failed (on_failure = stop): {why}");
            ExitCode::from(1)
        }
        _ => code,
    };
    for (job, s) in &summaries {
        print_summary(job, s, &destination);
    }
    if jobs.len() > 1 && !summaries.is_empty() {
        let c = &total.counts;
        eprintln!(
            "ferrocap: {} of {} inputs done: {} packets read, {} matched, {} written in {:.3} s ({:.2} Mpps)",
            summaries.len(),
            jobs.len(),
            c.read,
            c.matched,
            c.written,
            total.secs,
            c.read as f64 / total.secs.max(1e-9) / 1e6
        );
    }
    print_log_totals(totals, &destination);
    code
}

/// `APPL-102-K` and the `APPL-888-I` SUMMARY record.
fn log_summary(log: &AppLog, s: &Summary) {
    let c = &s.counts;
    log.log(
        catalog::APPL_STOPPED,
        &[
            &format_args!("{:.3} s", s.secs),
            &c.read,
            &c.matched,
            &c.written,
            &0u64,
        ],
    );
    let rec = StatRecord::new("SUMMARY")
        .field("DURATION", s.secs.round() as u64)
        .field("RX", c.read)
        .field("MATCHED", c.matched)
        .field("WRITTEN", c.written)
        .field("DROPPED", 0u64)
        .finish(Outcome::Accepted);
    log.stat(catalog::APPL_SUMMARY, rec);
}

fn print_summary(job: &Job, s: &Summary, destination: &str) {
    let c = &s.counts;
    let rate = c.read as f64 / s.secs.max(1e-9) / 1e6;
    match &s.dump {
        Some((path, format, bytes)) => {
            eprintln!(
                "ferrocap: {} packets read from {}: {} matched, {} unmatched, {} skipped (link type not Ethernet)",
                c.read,
                job.input.display(),
                c.matched,
                c.unmatched,
                c.skipped
            );
            eprintln!(
                "ferrocap: {} packets written to {} ({format}, {bytes} bytes) in {:.3} s ({rate:.2} Mpps)",
                c.written,
                path.display(),
                s.secs,
            );
        }
        None => eprintln!(
            "ferrocap: {} packets read from {} in {:.3} s ({rate:.2} Mpps), {} skipped (link type not Ethernet)",
            c.read,
            job.input.display(),
            s.secs,
            c.skipped
        ),
    }
    if s.packet_log {
        eprintln!(
            "ferrocap: packet log: {} packets matched, {} PFLG-888-I records to {destination}",
            c.log_matched, c.logged
        );
        if c.log_no_ip > 0 {
            eprintln!(
                "ferrocap: packet log: {} matching frames not logged: no IP header",
                c.log_no_ip
            );
        }
    }
}

fn print_log_totals(t: LogTotals, destination: &str) {
    if t.dropped > 0 {
        eprintln!(
            "ferrocap: warning: {} log records dropped because the log queue was full (raise [log] queue_len)",
            t.dropped
        );
    }
    if t.write_errors > 0 {
        eprintln!(
            "ferrocap: warning: {} log lines could not be written ({destination})",
            t.write_errors
        );
    }
}

/// Compiles `src` for the output `name`, reporting warnings and errors on
/// stderr and in the log. `None` when it does not compile.
fn compile(
    log: &AppLog,
    name: &str,
    src: &str,
    directory: &Directory,
    configured: bool,
) -> Option<Matcher> {
    match expr::compile(src, directory) {
        Ok(c) => {
            for w in &c.warnings {
                eprintln!("ferrocap: {w}");
                log.log(catalog::EXPR_CHECK, &[&name, &w]);
            }
            log.log(catalog::EXPR_SET, &[&name, &c.normalized]);
            Some(c.matcher)
        }
        Err(e) => {
            eprintln!("{e}");
            if !configured && matches!(e.kind, expr::ExprErrorKind::UnknownInterface) {
                eprintln!("hint: without --config, the interfaces are the names in the input file and --interface");
            }
            log.log(catalog::EXPR_ERROR, &[&name, &e.line, &e.char, &e.message]);
            None
        }
    }
}

/// The dump: its writer and expression.
struct Dump {
    writer: DumpWriter<File>,
    matcher: Matcher,
    path: PathBuf,
    format: DumpFormat,
}

impl Dump {
    /// Logs the `DUMP-STOP` record.
    fn log_stop(&self, log: &AppLog, outcome: Outcome) {
        let rec = StatRecord::new("DUMP-STOP")
            .field("NAME", DUMP_NAME)
            .field("FILE", self.path.display())
            .field("PACKETS", self.writer.packets_written())
            .field("BYTES", self.writer.bytes_written())
            .field("DROPPED", 0u64)
            .finish(outcome);
        log.stat(catalog::PDMP_STOPPED, rec);
    }
}

/// Logs `DUMP-START` for `path` with `outcome`.
fn log_dump_start(log: &AppLog, path: &Path, format: DumpFormat, src: &str, outcome: Outcome) {
    let rec = StatRecord::new("DUMP-START")
        .field("NAME", DUMP_NAME)
        .field("FILE", path.display())
        .field("FORMAT", format)
        .field("EXPR", src)
        .finish(outcome);
    log.stat(catalog::PDMP_STARTED, rec);
}

fn capture(
    args: &CaptureArgs,
    job: &Job,
    loaded: Option<&Loaded>,
    packet_log_src: Option<&str>,
    applog: &AppLog,
) -> Result<Finished, RunError> {
    let logger = applog.logger();
    // Without a config, the interfaces the expressions may use are the
    // names in the input's header, so the input is opened first; with one,
    // a bad expression is reported before the input is touched.
    let mut opened = None;
    let directory = match loaded {
        Some(l) => l.directory.clone(),
        None => {
            let input = open_input(&job.input)?;
            let d = directory_from_input(input.reader.interfaces(), args.interface.as_deref());
            opened = Some(input);
            d
        }
    };
    let dump_matcher = match (&job.output, &args.expression) {
        (Some(_), Some(src)) => match compile(applog, DUMP_NAME, src, &directory, loaded.is_some())
        {
            Some(m) => Some(m),
            None => return Ok(Finished::BadExpression),
        },
        _ => None,
    };
    let packet_log = match packet_log_src {
        Some(src) => match compile(applog, PACKET_LOG_NAME, src, &directory, loaded.is_some()) {
            Some(matcher) => Some(matcher),
            None => return Ok(Finished::BadExpression),
        },
        None => None,
    };
    let OpenedInput {
        mut reader,
        first,
        first_result,
    } = match opened {
        Some(o) => o,
        None => open_input(&job.input)?,
    };

    let rules = direction_rules(loaded, &directory);
    let fallback_iif = args
        .interface
        .as_deref()
        .and_then(|n| directory.interface_index(n));
    let fallback_dir = match args.direction {
        Some(DirectionArg::In) => Direction::In,
        Some(DirectionArg::Out) => Direction::Out,
        None => Direction::Unknown,
    };

    let mut dump = match (dump_matcher, &job.output) {
        (Some(matcher), Some(path)) => {
            let format = args.format.unwrap_or_else(|| default_format(path));
            let src = args.expression.as_deref().unwrap_or("");
            let mut cfg = DumpConfig::new(format);
            cfg.snaplen = args.snaplen;
            cfg.pcap_resolution = reader.lossless_pcap_resolution();
            if let Some(first) = reader.interfaces().first() {
                // pcap has one link type per file; carry the input's over.
                cfg.linktype = first.linktype;
            }
            match DumpWriter::create(path, cfg) {
                Ok(writer) => {
                    log_dump_start(applog, path, format, src, Outcome::Accepted);
                    Some(Dump {
                        writer,
                        matcher,
                        path: path.clone(),
                        format,
                    })
                }
                Err(e) => {
                    log_dump_start(applog, path, format, src, Outcome::Failed);
                    return Err(e.into());
                }
            }
        }
        _ => None,
    };
    if let Some(src) = packet_log_src {
        applog.log(catalog::PFLG_STARTED, &[&PACKET_LOG_NAME, &src]);
    }

    let mut inputs: Vec<InputInterface> = Vec::new();
    let mut counts = Counts::default();
    let progress = std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut last_report = started;
    let mut last_debug = started;
    let mut truncated = false;
    // The first record of the input, and the first packet of each input
    // interface, are copied here so the reader's interface table can be
    // consulted; every other packet is matched straight from the reader's
    // buffer.
    let mut first_of_interface = OwnedRecord::default();
    let mut pending = Some(first_result);
    // A mapped classic pcap written to a pcap dump, with nothing that needs
    // the packets one by one in order (packet log, -c), is matched in
    // chunks on every core; the records come out in input order.
    let mut parallel = packet_log.is_none() && args.count.is_none();
    // The window of chunks split off while the previous one was matched.
    let mut state = ParallelState::default();
    loop {
        if parallel && pending.is_none() {
            let step = match (dump.as_mut(), inputs.first_mut()) {
                (Some(d), Some(input)) if is_splittable_pcap(&reader) && input.decodable => {
                    match_in_parallel(&mut reader, d, input, &mut counts, &mut state)
                }
                _ => Ok(false),
            };
            match step {
                Ok(true) => {
                    if progress && last_report.elapsed().as_secs() >= 1 {
                        last_report = Instant::now();
                        eprint!(
                            "\r{} packets read, {} matched …",
                            counts.read, counts.matched
                        );
                        let _ = std::io::stderr().flush();
                    }
                    continue;
                }
                Ok(false) => parallel = false,
                Err(e) => {
                    if let Some(d) = dump.take() {
                        d.log_stop(applog, Outcome::Failed);
                        d.writer.finish()?;
                    }
                    return Err(e.into());
                }
            }
        }
        let next = match pending.take() {
            Some(Ok(true)) => Ok(Some(first.as_record())),
            Some(Ok(false)) => Ok(None),
            Some(Err(e)) => Err(e),
            None => reader.next_record(),
        };
        let rec = match next {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(CaptureError::Truncated { .. }) => {
                eprintln!(
                    "ferrocap: warning: {} ends in the middle of a record; kept the {} whole packets before it",
                    job.input.display(),
                    counts.read
                );
                truncated = true;
                break;
            }
            Err(e) => {
                // Close what was written so far so it stays readable.
                if let Some(d) = dump.take() {
                    d.log_stop(applog, Outcome::Failed);
                    d.writer.finish()?;
                }
                return Err(e.into());
            }
        };
        let idx = rec.interface as usize;
        let rec = if idx < inputs.len() {
            rec
        } else {
            first_of_interface.copy_from(&rec);
            while inputs.len() <= idx {
                let info = reader.interfaces().get(inputs.len());
                inputs.push(classify(
                    info,
                    &directory,
                    &rules,
                    fallback_iif,
                    fallback_dir,
                    args.interface.as_deref(),
                ));
            }
            first_of_interface.as_record()
        };
        counts.read += 1;
        let Some(input) = inputs.get_mut(idx) else {
            counts.skipped += 1;
            continue;
        };
        // A runt (shorter than an Ethernet header) is still offered to the
        // expressions, as the live path does: interface and direction
        // tests need no frame bytes, and every other test is false on it.
        if !input.decodable {
            counts.skipped += 1;
            continue;
        }
        let meta = PacketMeta {
            iif: input.iif,
            direction: direction_of(&rec, input.rule),
        };
        let mut limit_reached = false;
        if let Some(pl) = &packet_log {
            if pl.matches(&meta, rec.data) {
                counts.log_matched += 1;
                let name = input.name.as_deref().unwrap_or("-");
                match packet_record(&rec, meta.direction, name) {
                    Some(r) => {
                        // Paced: never more than half the queue of our
                        // records in it, so none is dropped.
                        applog.packet(&r);
                        counts.logged += 1;
                    }
                    None => counts.log_no_ip += 1,
                }
                limit_reached = dump.is_none() && args.count.is_some_and(|c| counts.logged >= c);
            }
        }
        if let Some(d) = dump.as_mut() {
            if d.matcher.matches(&meta, rec.data) {
                counts.matched += 1;
                let out_index = match input.out_index {
                    Some(i) => i,
                    None => {
                        let i = match d
                            .writer
                            .add_interface(input.name.as_deref(), LINKTYPE_ETHERNET)
                        {
                            Ok(i) => i,
                            Err(e) => {
                                d.log_stop(applog, Outcome::Failed);
                                return Err(e.into());
                            }
                        };
                        input.out_index = Some(i);
                        i
                    }
                };
                let written = d.writer.write(&CaptureRecord {
                    interface: out_index,
                    direction: rec.direction.or(match meta.direction {
                        Direction::In => Some(CapturedDirection::Inbound),
                        Direction::Out => Some(CapturedDirection::Outbound),
                        Direction::Unknown => None,
                    }),
                    ..rec
                });
                if let Err(e) = written {
                    d.log_stop(applog, Outcome::Failed);
                    return Err(e.into());
                }
                counts.written += 1;
                limit_reached = args.count.is_some_and(|c| counts.written >= c);
            } else {
                counts.unmatched += 1;
            }
        }
        if logger.enabled(Severity::D) && last_debug.elapsed() >= PROGRESS_EVERY {
            last_debug = Instant::now();
            logger.debug(
                0,
                Component::Appl,
                900,
                Severity::D,
                format_args!(
                    "progress: {} packets read, {} matched, {} written, {} logged",
                    counts.read, counts.matched, counts.written, counts.logged
                ),
            );
            applog.paced();
        }
        if counts.read % FATAL_CHECK_EVERY == 0 {
            if let Some(why) = logger.fatal_error() {
                if let Some(d) = dump.take() {
                    d.log_stop(applog, Outcome::Failed);
                    d.writer.finish()?;
                }
                return Err(RunError::LogStopped(why));
            }
        }
        if limit_reached {
            break;
        }
        if progress && counts.read % 65_536 == 0 && last_report.elapsed().as_secs() >= 1 {
            last_report = Instant::now();
            eprint!(
                "\r{} packets read, {} matched …",
                counts.read,
                counts.matched.max(counts.log_matched)
            );
            let _ = std::io::stderr().flush();
        }
    }
    // Let the logger write what is queued: a failure under
    // `on_failure = "stop"` shows up now, not after the summary.
    logger.flush();
    if let Some(why) = logger.fatal_error() {
        if let Some(d) = dump.take() {
            d.log_stop(applog, Outcome::Failed);
            d.writer.finish()?;
        }
        return Err(RunError::LogStopped(why));
    }
    let dump_summary = match dump {
        Some(d) => {
            d.log_stop(applog, Outcome::Accepted);
            let bytes = d.writer.bytes_written();
            let (path, format) = (d.path.clone(), d.format);
            d.writer.finish()?;
            Some((path, format, bytes))
        }
        None => None,
    };
    if progress {
        eprint!("\r\x1b[K");
    }
    if packet_log.is_some() {
        if counts.log_no_ip > 0 {
            applog.log(
                catalog::PFLG_DROPPED,
                &[&PACKET_LOG_NAME, &counts.log_no_ip, &"no IP header"],
            );
        }
        applog.log(
            catalog::PFLG_STOPPED,
            &[&PACKET_LOG_NAME, &counts.logged, &logger.dropped()],
        );
    }
    Ok(Finished::Done(Summary {
        counts,
        secs: started.elapsed().as_secs_f64(),
        dump: dump_summary,
        packet_log: packet_log.is_some(),
        truncated,
    }))
}

/// Bytes of input per span of [`match_in_parallel`]: large enough that a
/// span's setup is noise, small enough that the threads finish a window
/// of them at nearly the same time.
const SPAN_BYTES: usize = 1 << 20;

/// Spans per thread in one window of [`match_in_parallel`]: the threads
/// wait for each other once per window, and the window's matched output
/// (at most its input) is held in memory until it is written.
const SPANS_PER_THREAD: usize = 12;

/// After this many windows with a span whose guessed start was wrong (an
/// input whose packets hold things that look like pcap record headers),
/// the rest of the input is read one record at a time.
const MAX_WRONG_GUESSES: u32 = 4;

/// Whether the input is a classic pcap (one interface), the only kind
/// [`match_in_parallel`] splits.
fn is_splittable_pcap(reader: &CaptureReader<File>) -> bool {
    reader.format() == DumpFormat::Pcap && reader.interfaces().len() == 1
}

/// Up to [`BURST_MAX`] records of a span waiting to be matched together:
/// the records, their frames and their metadata, side by side.
struct RecordBatch<'a> {
    records: Vec<CaptureRecord<'a>>,
    frames: Vec<&'a [u8]>,
    metas: Vec<PacketMeta>,
}

impl<'a> RecordBatch<'a> {
    fn new() -> Self {
        RecordBatch {
            records: Vec::with_capacity(BURST_MAX),
            frames: Vec::with_capacity(BURST_MAX),
            metas: Vec::with_capacity(BURST_MAX),
        }
    }

    fn push(&mut self, rec: CaptureRecord<'a>, meta: PacketMeta) {
        self.frames.push(rec.data);
        self.records.push(rec);
        self.metas.push(meta);
    }

    fn clear(&mut self) {
        self.records.clear();
        self.frames.clear();
        self.metas.clear();
    }
}

/// What one span of [`match_in_parallel`] found.
struct SpanResult {
    matched: u64,
    unmatched: u64,
    /// The matched records, encoded for the dump (a buffer of
    /// [`ParallelState::spare`], returned there once written).
    encoded: Vec<u8>,
    outcome: SpanOutcome,
}

/// What [`match_in_parallel`] keeps from one window to the next.
#[derive(Default)]
struct ParallelState {
    /// Output buffers of earlier spans, kept with their capacity so that
    /// no span grows a fresh one (and faults its pages in) again.
    spare: Vec<Vec<u8>>,
    /// The accepted spans of the last window, counted but not yet written
    /// (they are written while the next window is matched).
    unwritten: Vec<SpanResult>,
    /// Windows in which a span's guessed start was wrong.
    wrong_guesses: u32,
}

/// Appends `results` to the dump in order, counts them written, and keeps
/// their buffers in `spare`.
fn write_spans(
    writer: &mut DumpWriter<File>,
    results: &mut Vec<SpanResult>,
    spare: &mut Vec<Vec<u8>>,
) -> Result<u64, CaptureError> {
    let mut written = 0;
    let mut outcome = Ok(());
    for r in results.drain(..) {
        if outcome.is_ok() {
            outcome = writer.append_encoded(&r.encoded, r.matched);
            if outcome.is_ok() {
                written += r.matched;
            }
        }
        spare.push(r.encoded);
    }
    outcome.map(|()| written)
}

/// Matches the next window of the input ([`SPANS_PER_THREAD`] spans per
/// thread) in parallel while the previous window's matches are appended to
/// the dump, in input order. The spans are cut at byte offsets and find
/// their first record themselves, so no thread walks the input ahead of the
/// others; the reader accepts a span only if it starts exactly where the
/// one before it ended, and a span it does not accept is matched again in
/// the next window. `Ok(false)` when nothing could be split off (a streamed
/// or pcapng input, a pcapng dump, the end of the input, or too many wrong
/// guesses), or when a span stopped at a bad or cut record, which the
/// sequential loop then reports; every accepted match is written by then,
/// and the caller goes on one record at a time.
fn match_in_parallel(
    reader: &mut CaptureReader<File>,
    d: &mut Dump,
    input: &mut InputInterface,
    counts: &mut Counts,
    state: &mut ParallelState,
) -> Result<bool, CaptureError> {
    use rayon::prelude::*;
    let Some(encoder) = d.writer.pcap_encoder() else {
        return Ok(false);
    };
    let spans = if state.wrong_guesses >= MAX_WRONG_GUESSES {
        Vec::new()
    } else {
        reader.split_pcap_spans(rayon::current_num_threads() * SPANS_PER_THREAD, SPAN_BYTES)
    };
    if spans.is_empty() {
        counts.written += write_spans(&mut d.writer, &mut state.unwritten, &mut state.spare)?;
        return Ok(false);
    }
    if input.out_index.is_none() {
        // As the sequential loop does on the first match: the dump checks
        // that the input's link type is one it can hold.
        input.out_index = Some(
            d.writer
                .add_interface(input.name.as_deref(), LINKTYPE_ETHERNET)?,
        );
    }
    let (iif, rule) = (input.iif, input.rule);
    let Dump {
        writer, matcher, ..
    } = d;
    let matcher = &*matcher;
    let match_span = |(span, mut encoded): (PcapSpan, Vec<u8>)| {
        encoded.clear();
        let (mut matched, mut unmatched) = (0, 0);
        // Records are matched BURST_MAX at a time (one `matches_batch`
        // call each), and the matches encoded in input order. A pcap
        // record has no direction of its own, so with a fixed direction
        // rule every record has the same metadata.
        let same = match rule {
            Rule::Fixed(direction) => Some(PacketMeta { iif, direction }),
            Rule::ByMac(_) => None,
        };
        let mut batch = RecordBatch::new();
        let mut flush = |batch: &mut RecordBatch<'_>, encoded: &mut Vec<u8>| {
            let n = batch.records.len();
            let meta = match same {
                Some(meta) => BatchMeta::Same(meta),
                None => BatchMeta::Each(&batch.metas),
            };
            let frames = &batch.frames;
            let mut hits = matcher.matches_batch(meta, frames);
            let found = u64::from(hits.count_ones());
            matched += found;
            unmatched += n as u64 - found;
            while hits != 0 {
                let i = hits.trailing_zeros() as usize;
                hits &= hits - 1;
                if let Some(rec) = batch.records.get(i) {
                    encoder.encode(rec, encoded);
                }
            }
            batch.clear();
        };
        let outcome = span.read(|rec| {
            let meta = PacketMeta {
                iif,
                direction: direction_of(&rec, rule),
            };
            batch.push(rec, meta);
            if batch.records.len() == BURST_MAX {
                flush(&mut batch, &mut encoded);
            }
        });
        flush(&mut batch, &mut encoded);
        SpanResult {
            matched,
            unmatched,
            encoded,
            outcome,
        }
    };
    let mut buffers: Vec<Vec<u8>> = Vec::with_capacity(spans.len());
    for _ in 0..spans.len() {
        buffers.push(state.spare.pop().unwrap_or_default());
    }
    let ParallelState {
        spare, unwritten, ..
    } = state;
    let (written, mut results) = rayon::join(
        || write_spans(writer, unwritten, spare),
        || -> Vec<SpanResult> { spans.into_par_iter().zip(buffers).map(match_span).collect() },
    );
    let written = written?;
    counts.written += written;
    let outcomes: Vec<SpanOutcome> = results.iter().map(|r| r.outcome).collect();
    let accepted = reader.commit_pcap_spans(&outcomes);
    let stopped = accepted == 0 || outcomes.get(accepted - 1).is_some_and(|o| o.stopped());
    if !stopped && accepted < outcomes.len() {
        state.wrong_guesses += 1;
    }
    for r in results.drain(accepted..) {
        state.spare.push(r.encoded);
    }
    for r in &results {
        counts.read += r.outcome.records();
        counts.matched += r.matched;
        counts.unmatched += r.unmatched;
    }
    state.unwritten = results;
    if stopped {
        counts.written += write_spans(&mut d.writer, &mut state.unwritten, &mut state.spare)?;
        return Ok(false);
    }
    Ok(true)
}

/// Opens the input and reads its first record (copied out), which makes
/// the reader take in every interface block in front of it. The input is
/// read only once, so it may be a FIFO.
fn open_input(path: &Path) -> Result<OpenedInput, CaptureError> {
    // A regular file is matched where the page cache holds it (no copy);
    // pipes and FIFOs are streamed.
    let mut reader = CaptureReader::open_mapped(path)?;
    let mut first = OwnedRecord::default();
    let result = match reader.next_record() {
        Ok(Some(r)) => {
            first.copy_from(&r);
            Ok(true)
        }
        Ok(None) => Ok(false),
        Err(e) => Err(e),
    };
    Ok(OpenedInput {
        reader,
        first,
        first_result: result,
    })
}

/// An input opened by [`open_input`].
struct OpenedInput {
    reader: CaptureReader<File>,
    /// The first record, if `first_result` is `Ok(true)`.
    first: OwnedRecord,
    /// Whether there was a first record, or the error reading it.
    first_result: Result<bool, CaptureError>,
}

/// The `PFLG-888-I` fields of one frame, decoded to the transport layer;
/// `None` when the frame has no readable IP header and protocol.
fn packet_record<'a>(
    rec: &CaptureRecord<'_>,
    direction: Direction,
    interface: &'a str,
) -> Option<PacketRecord<'a>> {
    let d = wire::decode(rec.data, Depth::Transport);
    let (src, dst) = match d.l3 {
        L3::V4 { src, dst } => (
            IpAddr::V4(Ipv4Addr::from(src)),
            IpAddr::V4(Ipv4Addr::from(dst)),
        ),
        L3::V6 { src, dst } => (
            IpAddr::V6(Ipv6Addr::from(src)),
            IpAddr::V6(Ipv6Addr::from(dst)),
        ),
        L3::None => return None,
    };
    let protocol = d.ip_proto?;
    let (sport, dport) = d.ports.unzip();
    Some(PacketRecord {
        direction: match direction {
            Direction::In => PacketDirection::In,
            Direction::Out => PacketDirection::Out,
            Direction::Unknown => PacketDirection::Unknown,
        },
        interface,
        protocol,
        length: rec.orig_len,
        src: Endpoint {
            addr: src,
            port: sport,
        },
        dst: Endpoint {
            addr: dst,
            port: dport,
        },
        tcp_flags: d.tcp_flags,
        timestamp: Duration::from_nanos(rec.ts_nanos),
    })
}

/// Output format from the file name: `.pcap` → pcap, anything else → pcapng.
fn default_format(path: &Path) -> DumpFormat {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("pcap") => DumpFormat::Pcap,
        _ => DumpFormat::Pcapng,
    }
}

/// Without a config, the interfaces are the names the input's header declares
/// (up to its first packet) plus `--interface`.
fn directory_from_input(interfaces: &[InterfaceInfo], extra: Option<&str>) -> Directory {
    let mut names: Vec<String> = interfaces.iter().filter_map(|i| i.name.clone()).collect();
    names.extend(extra.map(str::to_owned));
    names.sort();
    names.dedup();
    let interfaces = names
        .into_iter()
        .map(|name| InterfaceDef {
            name,
            kind: InterfaceKind::Ethernet,
        })
        .collect();
    Directory::new(
        interfaces,
        Vec::new(),
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
    )
    .unwrap_or_default()
}

/// The config's direction rule per interface name.
fn direction_rules(loaded: Option<&Loaded>, directory: &Directory) -> BTreeMap<u16, Rule> {
    let mut rules = BTreeMap::new();
    let Some(l) = loaded else { return rules };
    for i in &l.config.interfaces {
        let Some(idx) = directory.interface_index(i.name.get_ref()) else {
            continue;
        };
        let rule = match i.direction {
            DirectionRuleConfig::In => Rule::Fixed(Direction::In),
            DirectionRuleConfig::Out => Rule::Fixed(Direction::Out),
            DirectionRuleConfig::Unknown => Rule::Fixed(Direction::Unknown),
            DirectionRuleConfig::ByMac => match i
                .mac
                .as_ref()
                .map(|m| crate::config::parse_mac(m.get_ref()))
            {
                Some(Ok(mac)) => Rule::ByMac(mac),
                _ => Rule::Fixed(Direction::Unknown),
            },
        };
        rules.insert(idx.0, rule);
    }
    rules
}

/// Classifies one input interface: is it Ethernet, which `iif` is it, and
/// how do its packets get a direction when the file records none.
fn classify(
    info: Option<&InterfaceInfo>,
    directory: &Directory,
    rules: &BTreeMap<u16, Rule>,
    fallback_iif: Option<IfIndex>,
    fallback_dir: Direction,
    fallback_name: Option<&str>,
) -> InputInterface {
    let decodable = info.map_or(true, |i| i.linktype == LINKTYPE_ETHERNET);
    let iif = info
        .and_then(|i| i.name.as_deref())
        .and_then(|n| directory.interface_index(n))
        .or(fallback_iif);
    let rule = match (fallback_dir, iif.and_then(|i| rules.get(&i.0))) {
        (Direction::In | Direction::Out, _) => Rule::Fixed(fallback_dir),
        (Direction::Unknown, Some(r)) => *r,
        (Direction::Unknown, None) => Rule::Fixed(Direction::Unknown),
    };
    InputInterface {
        name: info
            .and_then(|i| i.name.clone())
            .or_else(|| fallback_name.map(str::to_owned)),
        decodable,
        iif,
        rule,
        out_index: None,
    }
}

/// A packet's direction: what the file records, else the interface's rule.
#[inline]
fn direction_of(rec: &CaptureRecord<'_>, rule: Rule) -> Direction {
    match rec.direction {
        Some(CapturedDirection::Inbound) => Direction::In,
        Some(CapturedDirection::Outbound) => Direction::Out,
        None => match rule {
            Rule::Fixed(d) => d,
            Rule::ByMac(mac) => {
                if rec.data.get(0..6) == Some(&mac[..]) {
                    Direction::In
                } else if rec.data.get(6..12) == Some(&mac[..]) {
                    Direction::Out
                } else {
                    Direction::Unknown
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_follows_the_extension() {
        assert_eq!(default_format(Path::new("a.pcap")), DumpFormat::Pcap);
        assert_eq!(default_format(Path::new("a.PCAP")), DumpFormat::Pcap);
        assert_eq!(default_format(Path::new("a.pcapng")), DumpFormat::Pcapng);
        assert_eq!(default_format(Path::new("dump")), DumpFormat::Pcapng);
    }

    #[test]
    fn by_mac_direction() {
        let mac = [0, 0x11, 0x22, 0x33, 0x44, 0x55];
        let mut frame = [0u8; 14];
        let rec = |data: &'static [u8]| CaptureRecord {
            ts_nanos: 0,
            orig_len: data.len() as u32,
            data,
            interface: 0,
            direction: None,
        };
        frame[0..6].copy_from_slice(&mac);
        let to: &'static [u8] = Box::leak(Box::new(frame));
        assert_eq!(direction_of(&rec(to), Rule::ByMac(mac)), Direction::In);
        let mut frame = [0u8; 14];
        frame[6..12].copy_from_slice(&mac);
        let from: &'static [u8] = Box::leak(Box::new(frame));
        assert_eq!(direction_of(&rec(from), Rule::ByMac(mac)), Direction::Out);
        assert_eq!(
            direction_of(&rec(&[0u8; 14]), Rule::ByMac(mac)),
            Direction::Unknown
        );
        let mut inbound = rec(from);
        inbound.direction = Some(CapturedDirection::Inbound);
        assert_eq!(
            direction_of(&inbound, Rule::ByMac(mac)),
            Direction::In,
            "the file's flag wins"
        );
    }
}
