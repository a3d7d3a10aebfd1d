//! The deployment files in `deploy/` work with the tools that consume them.
//!
//! - every example config and the demo pass `ferrocap run --check-config`;
//! - the systemd unit passes `systemd-analyze verify` without a warning;
//! - the Prometheus scrape and federation configs and the alert rules pass
//!   `promtool check`, the rule unit tests pass `promtool test rules`, and
//!   every PromQL expression of the rules and the Grafana dashboard names
//!   only contract metrics;
//! - the committed man page equals `ferrocap man` and renders with `man -l`;
//! - logrotate with the shipped config rotates the logs of a running
//!   `ferrocap capture`, whose SIGHUP reopen continues in the new files;
//! - `deploy/setup.sh` runs apt-get only for missing packages, and
//!   `deploy/hugepages.sh` writes its persistent config once.
//!
//! A test whose tool is missing (systemd-analyze, promtool, logrotate, man)
//! fails and names `bash deploy/test.sh`, which installs them all. `FERROCAP_BLESS=1` rewrites `deploy/ferrocap.8`.

mod common;

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ferrocap_bench::gen::{self, presets};
use ferrocap_dataplane::pcap::{DumpConfig, DumpFormat, DumpWriter, LINKTYPE_ETHERNET};

/// The metric names the control plane exports (`GET /metrics`): the
/// dashboard and the alert rules may use no other.
const CONTRACT_METRICS: &[&str] = ferrocap_control::metrics::METRIC_NAMES;

/// The contract's histograms, whose series carry `_bucket`, `_sum`, `_count`.
const CONTRACT_HISTOGRAMS: &[&str] = &["ferrocap_receive_to_write_latency_seconds"];

/// Label names an expression may group or match on: the contract's labels
/// plus Prometheus's own (`le`, and the target labels).
const KNOWN_LABELS: &[&str] = &[
    "port", "worker", "output", "kind", "reason", "severity", "version", "dpdk", "le", "instance",
    "job",
];

/// The four example configs the deployment guide describes.
const EXAMPLES: &[&str] = &[
    "span-by-mac.toml",
    "tap-two-ports.toml",
    "vlan-trunk.toml",
    "vpn.toml",
];

/// How long any one wait may take before a test gives up.
const DEADLINE: Duration = Duration::from_secs(60);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn deploy(rel: &str) -> PathBuf {
    repo().join("deploy").join(rel)
}

fn ferrocap() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ferrocap"))
}

/// Asserts that `tool` runs: `bash deploy/setup.sh --test` (the README's
/// test command) installs every one of them, so a missing tool is a failed
/// setup, not a reason to pass.
fn have(tool: &str, version_arg: &str) -> bool {
    let ok = Command::new(tool)
        .arg(version_arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "`{tool}` is not installed: run `bash deploy/test.sh` (it installs it through deploy/setup.sh --test)"
    );
    ok
}

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------- configs

#[test]
fn example_configs_and_the_demo_pass_check_config() {
    let mut found: Vec<String> = std::fs::read_dir(deploy("examples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    found.sort();
    assert_eq!(
        found, EXAMPLES,
        "deploy/examples/ holds other files than expected"
    );

    let mut configs: Vec<PathBuf> = EXAMPLES
        .iter()
        .map(|n| deploy("examples").join(n))
        .collect();
    configs.push(deploy("demo.toml"));
    for config in &configs {
        let out = ferrocap()
            .args(["run", "--check-config", "--config"])
            .arg(config)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}", config.display(), text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("configuration OK"),
            "{}",
            text(&out)
        );
    }

    // --check-config does reject: a typo in a copy of an example is exit 2
    // with the position.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let good = read(&deploy("examples/tap-two-ports.toml"));
    std::fs::write(&bad, good.replace("rx_descriptors", "rx_descriptor")).unwrap();
    let out = ferrocap()
        .args(["run", "--check-config", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown field `rx_descriptor`"),
        "{}",
        text(&out)
    );
}

#[test]
fn real_nic_examples_name_pci_ports_and_allow_them_in_eal() {
    // The production examples use PCI addresses (not vdevs), and every port
    // is on the EAL allow list, or DPDK would not probe it.
    let pci = regex::Regex::new(r#"(?m)^name = "([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])"$"#)
        .unwrap();
    for name in EXAMPLES {
        let t = read(&deploy("examples").join(name));
        let ports: Vec<&str> = pci
            .captures_iter(&t)
            .map(|c| c.get(1).unwrap().as_str())
            .collect();
        assert!(!ports.is_empty(), "{name}: no PCI [[port]]");
        for p in ports {
            assert!(
                t.contains(&format!("\"-a\", \"{p}\"")),
                "{name}: port {p} is not in the EAL allow list (-a)"
            );
        }
        assert!(
            !t.contains("vdev ="),
            "{name}: a production example uses a vdev"
        );
    }
}

// ---------------------------------------------------------------- systemd

#[test]
fn systemd_unit_passes_systemd_analyze_verify() {
    let unit = read(&deploy("ferrocap.service"));
    for needed in [
        "LimitMEMLOCK=infinity",
        "Restart=on-failure",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "StateDirectory=ferrocap",
        "LogsDirectory=ferrocap",
        "RuntimeDirectory=ferrocap",
        "AmbientCapabilities=CAP_IPC_LOCK CAP_NET_RAW CAP_NET_ADMIN CAP_SYS_RAWIO",
        "CapabilityBoundingSet=CAP_IPC_LOCK CAP_NET_RAW CAP_NET_ADMIN CAP_SYS_RAWIO",
        "NoNewPrivileges=yes",
    ] {
        assert!(
            unit.lines().any(|l| l == needed),
            "ferrocap.service lacks `{needed}`"
        );
    }
    assert!(!unit.contains("CAP_SYS_ADMIN\n") && !unit.contains("CAP_SYS_ADMIN "));
    // These imply a device allow-list that closes /dev/vfio/N to DPDK.
    for closes_vfio in [
        "ProtectClock=",
        "PrivateDevices=",
        "DeviceAllow=",
        "ProtectKernelLogs=",
    ] {
        assert!(
            !unit.lines().any(|l| l.starts_with(closes_vfio)),
            "ferrocap.service sets {closes_vfio}"
        );
    }
    if !have("systemd-analyze", "--version") {
        return;
    }
    // verify checks that ExecStart's binary exists and that the man page of
    // Documentation= is found: point both at this build.
    let dir = tempfile::tempdir().unwrap();
    let man8 = dir.path().join("man/man8");
    std::fs::create_dir_all(&man8).unwrap();
    std::fs::copy(deploy("ferrocap.8"), man8.join("ferrocap.8")).unwrap();
    let unit_path = dir.path().join("ferrocap.service");
    std::fs::write(
        &unit_path,
        unit.replace("/usr/local/bin/ferrocap", env!("CARGO_BIN_EXE_ferrocap")),
    )
    .unwrap();
    let verify = |path: &Path| {
        Command::new("systemd-analyze")
            .arg("verify")
            .arg(path)
            .env("MANPATH", dir.path().join("man"))
            .output()
            .unwrap()
    };
    let out = verify(&unit_path);
    eprintln!("systemd-analyze verify: {}", text(&out));
    assert!(out.status.success(), "{}", text(&out));
    // verify reports bad settings as warnings with status 0: none allowed.
    assert!(out.stderr.is_empty(), "{}", text(&out));

    // And a bad setting does produce a warning, so the check above can fail.
    let bad = dir.path().join("bad.service");
    std::fs::write(
        &bad,
        read(&unit_path).replace("Restart=on-failure", "Restart=sometimes"),
    )
    .unwrap();
    let out = verify(&bad);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sometimes"),
        "{}",
        text(&out)
    );
}

#[test]
fn systemd_sysusers_file_creates_the_service_user() {
    if !have("systemd-sysusers", "--version") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("etc")).unwrap();
    let out = Command::new("systemd-sysusers")
        .arg(format!("--root={}", root.path().display()))
        .arg(deploy("systemd/ferrocap-sysusers.conf"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let passwd = read(&root.path().join("etc/passwd"));
    let line = passwd
        .lines()
        .find(|l| l.starts_with("ferrocap:"))
        .unwrap_or_else(|| panic!("no ferrocap user in\n{passwd}"));
    assert!(
        line.ends_with(":/var/lib/ferrocap:/usr/sbin/nologin"),
        "{line}"
    );
}

// ------------------------------------------------------------- prometheus

#[test]
fn prometheus_config_rules_and_rule_tests_pass_promtool() {
    if !have("promtool", "--version") {
        return;
    }
    let dir = deploy("prometheus");
    for args in [
        &["check", "config", "prometheus.yml"][..],
        &["check", "config", "federation.yml"],
        &["check", "rules", "ferrocap.rules.yml"],
        &["test", "rules", "ferrocap.rules.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        eprintln!("promtool {}: {}", args.join(" "), text(&out));
        assert!(out.status.success(), "promtool {args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("SUCCESS"),
            "{}",
            text(&out)
        );
    }
}

/// Every `ferrocap_*` name in `expr`, each checked against the contract;
/// returns the contract metrics it uses.
fn contract_metrics_in(expr: &str, context: &str) -> BTreeSet<&'static str> {
    let name = regex::Regex::new(r"\bferrocap_[a-z0-9_]+").unwrap();
    let mut used = BTreeSet::new();
    for m in name.find_iter(expr) {
        let n = m.as_str();
        let base = CONTRACT_HISTOGRAMS
            .iter()
            .find(|h| {
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|s| n.strip_suffix(s) == Some(**h))
            })
            .copied()
            .unwrap_or(n);
        let known = CONTRACT_METRICS
            .iter()
            .find(|c| **c == base)
            .unwrap_or_else(|| panic!("{context}: `{n}` is not a contract metric in `{expr}`"));
        assert!(
            !CONTRACT_HISTOGRAMS.contains(known) || n != base,
            "{context}: the histogram `{n}` is used without _bucket/_sum/_count in `{expr}`"
        );
        used.insert(*known);
    }
    // Labels in `by (…)`/`without (…)` and in `{…}` matchers.
    let grouping = regex::Regex::new(r"\b(?:by|without)\s*\(([^)]*)\)").unwrap();
    let matcher = regex::Regex::new(r#"([a-z_]+)\s*(?:=~|!~|!=|=)\s*""#).unwrap();
    let labels = grouping
        .captures_iter(expr)
        .flat_map(|c| {
            c.get(1)
                .unwrap()
                .as_str()
                .split(',')
                .map(|s| s.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .chain(
            matcher
                .captures_iter(expr)
                .map(|c| c.get(1).unwrap().as_str().to_owned()),
        );
    for l in labels.filter(|l| !l.is_empty()) {
        assert!(
            KNOWN_LABELS.contains(&l.as_str()),
            "{context}: label `{l}` is not a contract label in `{expr}`"
        );
    }
    used
}

/// The `expr:` values of the alert rules (one line each, in quotes or not).
fn rule_exprs() -> Vec<(String, String)> {
    let t = read(&deploy("prometheus/ferrocap.rules.yml"));
    let mut alert = String::new();
    let mut out = Vec::new();
    for line in t.lines().map(str::trim) {
        if let Some(a) = line.strip_prefix("- alert:") {
            alert = a.trim().to_owned();
        } else if let Some(e) = line.strip_prefix("expr:") {
            out.push((alert.clone(), e.trim().to_owned()));
        }
    }
    out
}

#[test]
fn alert_rules_cover_the_failures_with_contract_metrics() {
    let rules = rule_exprs();
    assert!(rules.len() >= 6, "{rules:?}");
    let mut used = BTreeSet::new();
    for (alert, expr) in &rules {
        used.extend(contract_metrics_in(expr, alert));
    }
    for needed in [
        "ferrocap_worker_dropped_packets_total",
        "ferrocap_output_dropped_packets_total",
        "ferrocap_port_rx_missed_packets_total",
        "ferrocap_port_rx_nombuf_total",
        "ferrocap_output_write_errors_total",
        "ferrocap_port_link_up",
        "ferrocap_log_records_dropped_total",
    ] {
        assert!(used.contains(needed), "no alert rule on {needed}");
    }
}

/// Every string under a key named `expr`, `query` or `definition`.
fn dashboard_queries(v: &serde_json::Value, path: &str, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{path}.{k}");
                match (k.as_str(), x) {
                    ("expr" | "query" | "definition", serde_json::Value::String(s)) => {
                        out.push((p, s.clone()));
                    }
                    _ => dashboard_queries(x, &p, out),
                }
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                dashboard_queries(x, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn dashboard() -> serde_json::Value {
    serde_json::from_str(&read(&deploy("grafana/ferrocap.json"))).expect("ferrocap.json is JSON")
}

#[test]
fn grafana_dashboard_queries_only_contract_metrics() {
    let d = dashboard();
    assert_eq!(d["uid"], "ferrocap-overview");
    let mut queries = Vec::new();
    dashboard_queries(&d, "$", &mut queries);
    // The datasource variable's query is the plugin type, not PromQL.
    queries.retain(|(_, q)| q != "prometheus");
    assert!(queries.len() >= 30, "{} queries", queries.len());
    let mut used = BTreeSet::new();
    for (path, q) in &queries {
        let m = contract_metrics_in(q, path);
        assert!(!m.is_empty(), "{path}: `{q}` uses no ferrocap metric");
        used.extend(m);
    }
    // What the issue asks the dashboard to show.
    for needed in [
        "ferrocap_port_rx_packets_total",
        "ferrocap_worker_rx_packets_total",
        "ferrocap_worker_matched_packets_total",
        "ferrocap_output_dropped_packets_total",
        "ferrocap_ring_occupancy_slots",
        "ferrocap_receive_to_write_latency_seconds",
        "ferrocap_output_file_bytes",
    ] {
        assert!(used.contains(needed), "the dashboard shows no {needed}");
    }
    let all: String = queries.iter().map(|(_, q)| q.as_str()).collect();
    assert!(all.contains("histogram_quantile(0.99,"), "no p99 latency");
    assert!(all.contains("sum by (reason)"), "no drops by reason");
    // Panels do not overlap: no two share a grid cell.
    let mut cells = BTreeSet::new();
    for p in d["panels"].as_array().unwrap() {
        let g = &p["gridPos"];
        let (x, y, w, h) = (
            g["x"].as_u64().unwrap(),
            g["y"].as_u64().unwrap(),
            g["w"].as_u64().unwrap(),
            g["h"].as_u64().unwrap(),
        );
        assert!(x + w <= 24, "{}: wider than the grid", p["title"]);
        for cx in x..x + w {
            for cy in y..y + h {
                assert!(
                    cells.insert((cx, cy)),
                    "{} overlaps another panel",
                    p["title"]
                );
            }
        }
    }
}

#[test]
fn grafana_dashboard_queries_are_valid_promql() {
    if !have("promtool", "--version") {
        return;
    }
    // promtool parses PromQL in recording rules: one rule per query, with
    // Grafana's variables replaced by what they expand to.
    let mut queries = Vec::new();
    dashboard_queries(&dashboard(), "$", &mut queries);
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, (_, q)) in queries
        .iter()
        .filter(|(_, q)| !q.starts_with("label_values(") && q != "prometheus")
        .enumerate()
    {
        let q = q
            .replace("$__rate_interval", "1m")
            .replace("$instance", ".*");
        let quoted = serde_json::to_string(&q).unwrap();
        rules.push_str(&format!(
            "      - record: dashboard:q{i}\n        expr: {quoted}\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard.rules.yml");
    std::fs::write(&file, &rules).unwrap();
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{rules}", text(&out));
}

// ---------------------------------------------------------------- man page

#[test]
fn committed_man_page_is_current_and_renders() {
    let out = ferrocap().arg("man").output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let page = String::from_utf8(out.stdout).unwrap();
    let committed_path = deploy("ferrocap.8");
    if std::env::var_os("FERROCAP_BLESS").is_some() {
        std::fs::write(&committed_path, &page).unwrap();
    }
    let committed = read(&committed_path);
    assert!(
        committed == page,
        "deploy/ferrocap.8 is stale: regenerate it with\n  FERROCAP_BLESS=1 cargo test -p ferrocap --test deploy committed_man_page"
    );
    assert!(
        page.contains(".TH FERROCAP 8 "),
        "{}",
        &page[..page.len().min(300)]
    );
    for sub in ["capture", "check", "explain", "run", "stats"] {
        assert!(
            page.contains(&format!(".SS \"ferrocap {sub}\"")),
            "no section for {sub}"
        );
    }
    // The hidden generator does not document itself.
    assert!(
        !page.contains("ferrocap man"),
        "the man subcommand is listed"
    );

    if !have("man", "--version") {
        return;
    }
    let out = Command::new("man")
        .args(["--warnings", "-E", "UTF-8", "-l"])
        .arg(&committed_path)
        .env("MANWIDTH", "80")
        .env("MAN_KEEP_FORMATTING", "0")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    // Without a terminal, man strips the formatting; drop any overstrike.
    let plain: String = {
        let b = regex::Regex::new(".\u{8}").unwrap();
        b.replace_all(&shown, "").into_owned()
    };
    assert!(
        plain.starts_with("FERROCAP(8)"),
        "{}",
        &plain[..plain.len().min(300)]
    );
    for needed in [
        "SYNOPSIS",
        "COMMANDS",
        "ferrocap run",
        "--check-config",
        "SIGNALS",
        "EXIT STATUS",
    ] {
        assert!(
            plain.contains(needed),
            "rendered page lacks {needed}:\n{plain}"
        );
    }
    // groff warns about bad requests on stderr (man --warnings).
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.trim().is_empty(), "man -l warnings:\n{err}");
}

// --------------------------------------------------------------- logrotate

/// Kills the child if the test fails half-way.
struct Reap(Option<Child>);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The complete lines of `path` (none if it does not exist yet).
fn lines(path: &Path) -> Vec<String> {
    let t = std::fs::read_to_string(path).unwrap_or_default();
    let complete = t.rfind('\n').map_or("", |i| &t[..i]);
    complete.lines().map(str::to_owned).collect()
}

fn packet_records(lines: &[String]) -> usize {
    lines
        .iter()
        .filter(|l| l.contains("]: PFLG-888-I PACKET "))
        .count()
}

fn wait_for(what: &str, child: &mut Reap, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        if let Some(st) = child.0.as_mut().and_then(|c| c.try_wait().unwrap()) {
            panic!("ferrocap exited ({st}) while waiting for {what}");
        }
        assert!(start.elapsed() < DEADLINE, "gave up waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `logrotate -f` once with the shipped config, pointed at `logs` and
/// signalling only `pid` (not every process named ferrocap on the machine).
/// Returns the rotated stats and debug logs (dateext names, uncompressed
/// thanks to delaycompress).
fn logrotate_once(dir: &Path, logs: &Path, pid: u32) -> (PathBuf, PathBuf) {
    let shipped = read(&deploy("logrotate/ferrocap"));
    let start = shipped
        .find("    postrotate\n")
        .expect("a postrotate script");
    let end = shipped.find("    endscript\n").expect("an endscript");
    let conf_text = format!(
        "{}    postrotate\n        kill -HUP {pid}\n{}",
        &shipped[..start],
        &shipped[end..]
    )
    .replace("/var/log/ferrocap", &logs.display().to_string());
    let conf = dir.join("ferrocap.logrotate");
    std::fs::write(&conf, conf_text).unwrap();
    let out = Command::new("logrotate")
        .arg("-f")
        .arg("-s")
        .arg(dir.join("logrotate.state"))
        .arg(&conf)
        .output()
        .unwrap();
    assert!(out.status.success(), "logrotate: {}", text(&out));
    let rotated = |stem: &str| -> PathBuf {
        let mut found: Vec<PathBuf> = std::fs::read_dir(logs)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!("{stem}-"))
            })
            .collect();
        assert_eq!(found.len(), 1, "rotated {stem}: {found:?}");
        found.pop().unwrap()
    };
    let old = (rotated("ferrocap-stats"), rotated("ferrocap-debug"));
    assert!(!old.0.to_string_lossy().ends_with(".gz"));
    old
}

#[test]
fn logrotate_rotates_the_logs_of_a_running_capture() {
    if !have("logrotate", "--version") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let fifo = dir.path().join("in.fifo");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success(), "mkfifo");

    let child = ferrocap()
        .args(["capture", "-r"])
        .arg(&fifo)
        .args(["--packet-log", "any", "--log-dir"])
        .arg(&logs)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut child = Reap(Some(child));

    // One flushed packet every 2 ms into the FIFO until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let stop = Arc::clone(&stop);
        let fifo = fifo.clone();
        thread::spawn(move || {
            let file = OpenOptions::new().write(true).open(&fifo).unwrap();
            let mut w = DumpWriter::new(file, "fifo", DumpConfig::new(DumpFormat::Pcapng)).unwrap();
            let mut cfg = presets::mix(7, 1_000_000);
            cfg.interfaces = common::interfaces();
            cfg.arp_fraction = 0.0;
            for i in &cfg.interfaces {
                w.add_interface(Some(&i.name), LINKTYPE_ETHERNET).unwrap();
            }
            let mut fed = 0u64;
            for p in gen::generate(&cfg) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                w.write(&p.as_record()).unwrap();
                w.flush().unwrap();
                fed += 1;
                thread::sleep(Duration::from_millis(2));
            }
            w.finish().unwrap();
            fed
        })
    };

    let stats = logs.join("ferrocap-stats");
    let debug = logs.join("ferrocap-debug");
    wait_for("200 packet records", &mut child, || {
        packet_records(&lines(&stats)) >= 200
    });

    let (old_stats, old_debug) = logrotate_once(dir.path(), &logs, pid);

    // After the SIGHUP the process writes new files and goes on.
    wait_for("the reopen message", &mut child, || {
        lines(&debug)
            .iter()
            .any(|l| l.contains("SLOG-111-N log files reopened"))
    });
    wait_for("200 records in the new stats log", &mut child, || {
        packet_records(&lines(&stats)) >= 200
    });

    stop.store(true, Ordering::Relaxed);
    let fed = feeder.join().unwrap();
    let out = child.0.take().unwrap().wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));

    // No record lost or cut: every line in both files is whole, and the
    // two files together hold every record the capture says it logged.
    let before = lines(&old_stats);
    let after = lines(&stats);
    let n = packet_records(&before) + packet_records(&after);
    assert!(packet_records(&before) >= 200 && packet_records(&after) >= 200);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{n} PFLG-888-I records")),
        "{n} records in the two files; {fed} packets fed; ferrocap said:\n{stderr}"
    );
    for l in before.iter().chain(&after) {
        assert!(
            l.contains(&format!(" ferrocap[{pid}.")),
            "not a whole record: {l}"
        );
    }
    assert!(
        read(&old_stats).ends_with('\n'),
        "the rotated stats log ends in a cut record"
    );
    assert!(lines(&old_debug)
        .iter()
        .any(|l| l.contains("APPL-100-K ferrocap ")));
    assert!(lines(&debug)
        .iter()
        .any(|l| l.contains("APPL-102-K ferrocap stopped")));
}

/// The same for the appliance: `ferrocap run` must survive the SIGHUP of
/// the postrotate script (and of the unit's `ExecReload`) and go on writing
/// to the new files.
#[cfg(feature = "dpdk")]
#[test]
fn logrotate_rotates_the_logs_of_ferrocap_run() {
    if !have("logrotate", "--version") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let prefix = format!("ferrocap-deploy-{}", std::process::id());
    let config = format!(
        r#"[eal]
args = ["-l", "0-1", "--no-huge", "-m", "256", "--no-pci", "--no-telemetry", "--no-shconf",
        "--file-prefix={prefix}", "--log-level=lib.eal:warning"]
[[port]]
name = "net_pcap0"
vdev = "net_pcap0,rx_pcap={},infinite_rx=1"
pool_size = 32767
[packet_logging]
expression = "tcpfl = SYN"
[log]
output = "file"
dir = "{}"
"#,
        deploy("demo.pcap").display(),
        logs.display()
    );
    let config_path = dir.path().join("ferrocap.toml");
    std::fs::write(&config_path, config).unwrap();
    let child = ferrocap()
        .args(["run", "--duration", "120", "--config"])
        .arg(&config_path)
        .current_dir(dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut child = Reap(Some(child));
    let stats = logs.join("ferrocap-stats");
    let debug = logs.join("ferrocap-debug");
    wait_for("packet records", &mut child, || {
        packet_records(&lines(&stats)) >= 1000
    });

    let (old_stats, _) = logrotate_once(dir.path(), &logs, pid);
    wait_for("the reopen message", &mut child, || {
        lines(&debug)
            .iter()
            .any(|l| l.contains("SLOG-111-N log files reopened"))
    });
    wait_for("records in the new stats log", &mut child, || {
        packet_records(&lines(&stats)) >= 1000
    });
    let st = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let out = child.0.take().unwrap().wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(read(&old_stats).ends_with('\n'));
    for l in lines(&old_stats).iter().chain(&lines(&stats)) {
        assert!(
            l.contains(&format!(" ferrocap[{pid}.")),
            "not a whole record: {l}"
        );
    }
    // The EAL leaves an empty runtime directory per file prefix.
    for d in [
        std::env::var_os("XDG_RUNTIME_DIR").map(|d| Path::new(&d).join("dpdk")),
        Some(PathBuf::from("/var/run/dpdk")),
        Some(std::env::temp_dir().join("dpdk")),
    ]
    .into_iter()
    .flatten()
    {
        let _ = std::fs::remove_dir(d.join(&prefix));
    }
}

// ----------------------------------------------------------------- scripts

/// Fake `dpkg-query`, `apt-get`, `sudo`, `debconf-set-selections`, `cargo`
/// and `rustup` for `deploy/setup.sh`: packages listed in `installed` are
/// installed; every apt-get call is appended to `apt.log`.
fn fake_tools(dir: &Path, installed: &[&str]) {
    let script = |name: &str, body: &str| {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        let st = Command::new("chmod").arg("+x").arg(&p).status().unwrap();
        assert!(st.success());
    };
    let cases = installed.join("|");
    script(
        "dpkg-query",
        &format!(
            "for last; do :; done\ncase \"$last\" in {cases}) printf 'install ok installed' ;; *) exit 1 ;; esac"
        ),
    );
    script(
        "apt-get",
        &format!("echo \"$*\" >> '{}'", dir.join("apt.log").display()),
    );
    script("sudo", "exec \"$@\"");
    script("debconf-set-selections", "cat >/dev/null");
    script("cargo", "exit 0");
    script("rustup", "echo clippy-x86_64-unknown-linux-gnu");
}

fn run_setup(fakes: &Path, arg: Option<&str>) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(deploy("setup.sh"));
    cmd.args(arg);
    cmd.env("PATH", format!("{}:/usr/bin:/bin", fakes.display()))
        .output()
        .unwrap()
}

#[test]
fn setup_runs_apt_get_only_for_missing_packages() {
    let base = [
        "build-essential",
        "pkgconf",
        "libclang-dev",
        "dpdk",
        "libdpdk-dev",
        "libpcap-dev",
    ];
    let test_only = [
        "tshark",
        "tcpdump",
        "prometheus",
        "dpdk-dev",
        "systemd",
        "logrotate",
        "man-db",
        "groff-base",
        "chromium",
        "chromium-driver",
    ];
    let all: Vec<&str> = base.iter().chain(&test_only).copied().collect();

    // Everything there: no apt-get at all, for both modes.
    let d = tempfile::tempdir().unwrap();
    fake_tools(d.path(), &all);
    for arg in [None, Some("--test")] {
        let out = run_setup(d.path(), arg);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("all packages present"),
            "{}",
            text(&out)
        );
    }
    assert!(!d.path().join("apt.log").exists(), "apt-get ran");

    // logrotate and man-db missing: one update, one install of exactly those.
    let d = tempfile::tempdir().unwrap();
    let some: Vec<&str> = all
        .iter()
        .copied()
        .filter(|p| !matches!(*p, "logrotate" | "man-db"))
        .collect();
    fake_tools(d.path(), &some);
    let out = run_setup(d.path(), Some("--test"));
    assert!(out.status.success(), "{}", text(&out));
    let log = read(&d.path().join("apt.log"));
    let calls: Vec<&str> = log.lines().collect();
    assert_eq!(calls.len(), 2, "{log}");
    assert!(calls[0].starts_with("update"), "{log}");
    assert!(
        calls[1].starts_with("install") && calls[1].ends_with(" logrotate man-db"),
        "{log}"
    );

    // Without --test the test tools are not wanted: nothing to install.
    let d = tempfile::tempdir().unwrap();
    fake_tools(d.path(), &base);
    let out = run_setup(d.path(), None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!d.path().join("apt.log").exists(), "apt-get ran");

    // An unknown option is refused.
    let out = run_setup(d.path(), Some("--tset"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn hugepages_script_reserves_and_persists_once() {
    let root = tempfile::tempdir().unwrap();
    let sys = root.path().join("sys/kernel/mm/hugepages/hugepages-2048kB");
    std::fs::create_dir_all(&sys).unwrap();
    std::fs::write(sys.join("nr_hugepages"), "0\n").unwrap();
    let run = |args: &[&str]| {
        Command::new("bash")
            .arg(deploy("hugepages.sh"))
            .arg("--root")
            .arg(root.path())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--pages", "512", "--persist"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(read(&sys.join("nr_hugepages")).trim(), "512");
    let conf = root.path().join("etc/sysctl.d/80-ferrocap-hugepages.conf");
    assert!(
        read(&conf).lines().any(|l| l == "vm.nr_hugepages = 512"),
        "{}",
        read(&conf)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reserved 512 x 2M (was 0)"), "{err}");

    // Again: nothing to do, nothing rewritten.
    let out = run(&["--pages", "512", "--persist"]);
    assert!(out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already reserved") && err.contains("unchanged"),
        "{err}"
    );

    // 1 GiB pages go on the kernel command line.
    let sys1g = root
        .path()
        .join("sys/kernel/mm/hugepages/hugepages-1048576kB");
    std::fs::create_dir_all(&sys1g).unwrap();
    std::fs::write(sys1g.join("nr_hugepages"), "0\n").unwrap();
    let out = run(&["--size", "1G", "--pages", "4", "--persist"]);
    assert!(out.status.success(), "{}", text(&out));
    let grub = read(
        &root
            .path()
            .join("etc/default/grub.d/80-ferrocap-hugepages.cfg"),
    );
    assert!(
        grub.contains("default_hugepagesz=1G hugepagesz=1G hugepages=4"),
        "{grub}"
    );

    // Bad input is refused.
    assert_eq!(run(&["--pages", "many"]).status.code(), Some(2));
    assert_eq!(
        run(&["--size", "4M", "--pages", "1"]).status.code(),
        Some(2)
    );
}

#[test]
fn where_script_prints_the_demo_locations_and_urls() {
    let out = Command::new("bash")
        .arg(deploy("where.sh"))
        .arg(deploy("demo.toml"))
        .arg("/srv/demo")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let s = String::from_utf8_lossy(&out.stdout);
    for needed in [
        "/srv/demo/run/smb.pcapng",
        "/srv/demo/run/syn.pcap",
        "/srv/demo/run/ferrocap-stats",
        "/srv/demo/run/ferrocap-debug",
        "http://127.0.0.1:9700/metrics",
        "web page:   http://127.0.0.1:9700/\n",
    ] {
        assert!(s.contains(needed), "no {needed} in\n{s}");
    }
    // A wildcard bind is reached on loopback from the box itself.
    let out = Command::new("bash")
        .arg(deploy("where.sh"))
        .arg(deploy("examples/vpn.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("http://127.0.0.1:9700/metrics"), "{s}");
    assert!(
        s.contains("memory log: /var/lib/ferrocap/ferrocap-{pid}.mem"),
        "{s}"
    );
}

#[test]
fn deployment_guide_names_only_files_that_exist() {
    let guide = read(&repo().join("docs/deployment.md"));
    let path = regex::Regex::new(r"\bdeploy/[A-Za-z0-9_./-]*[A-Za-z0-9_]").unwrap();
    let mut checked = 0;
    for m in path.find_iter(&guide) {
        let p = repo().join(m.as_str());
        assert!(
            p.exists(),
            "docs/deployment.md names {} which does not exist",
            m.as_str()
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} deploy/ paths in the guide");
}
