//! The control plane of a real `ferrocap run` over DPDK's `net_pcap` vdev
//! (no NIC, no hugepages): a real Prometheus server scrapes it, and the
//! API changes the capture under traffic while the accounting stays exact.
//! Each test starts the `ferrocap` binary as a child with a unique EAL file
//! prefix and the control plane on `127.0.0.1:0` (the URL it prints names
//! the port).
#![cfg(feature = "dpdk")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrocap_dataplane::pcap::CaptureReader;
use serde_json::Value;

fn demo_pcap() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/demo.pcap")
}

fn prefix(test: &str) -> String {
    format!("ferrocap-ctl-{}-{test}", std::process::id())
}

/// A config replaying the demo capture in a loop, with the control plane
/// on a free loopback port.
fn config(test: &str, dir: &Path, extra: &str) -> String {
    format!(
        r#"[eal]
args = ["-l", "0-1", "--no-huge", "-m", "256", "--no-pci", "--no-telemetry", "--no-shconf",
        "--file-prefix={prefix}", "--log-level=lib.eal:warning"]

[[port]]
name = "net_pcap0"
vdev = "net_pcap0,rx_pcap={pcap},infinite_rx=1"
pool_size = 32767

[log]
output = "file"
dir = "{log}"

{extra}
"#,
        prefix = prefix(test),
        pcap = demo_pcap().display(),
        log = dir.join("log").display(),
    )
}

/// Removes the empty runtime directory the EAL leaves per file prefix.
fn cleanup(test: &str) {
    let dirs = [
        std::env::var_os("XDG_RUNTIME_DIR").map(|d| Path::new(&d).join("dpdk")),
        Some(PathBuf::from("/var/run/dpdk")),
        Some(std::env::temp_dir().join("dpdk")),
    ];
    for d in dirs.into_iter().flatten() {
        let _ = std::fs::remove_dir(d.join(prefix(test)));
    }
}

/// A running `ferrocap run` and what it printed so far on stderr.
struct Appliance {
    child: Child,
    stderr: Arc<Mutex<String>>,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Appliance {
    fn start(dir: &Path, config: &str) -> Appliance {
        let path = dir.join("ferrocap.toml");
        std::fs::write(&path, config).expect("write config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferrocap"))
            .arg("run")
            .arg("--config")
            .arg(&path)
            .arg("--summary-json")
            .arg(dir.join("summary.json"))
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ferrocap");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            let text = stderr.lock().map(|s| s.clone()).unwrap_or_default();
            if let Some(url) = text
                .lines()
                .find_map(|l| l.strip_prefix("ferrocap: control plane on http://"))
            {
                break url
                    .split('/')
                    .next()
                    .and_then(|a| a.parse().ok())
                    .unwrap_or_else(|| panic!("bad URL line: {url}"));
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("ferrocap exited ({status}) before serving:\n{text}");
            }
            assert!(Instant::now() < deadline, "no control URL printed:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        };
        Appliance {
            child,
            stderr,
            addr,
            dir: dir.to_owned(),
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// SIGTERM, wait, and the exit summary.
    fn stop(mut self) -> Value {
        let pid = self.child.id();
        let st = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(st.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("ferrocap did not stop:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // Let the reader thread take the last lines.
        std::thread::sleep(Duration::from_millis(200));
        let stderr = self.stderr();
        assert!(status.success(), "ferrocap failed ({status}):\n{stderr}");
        let text = std::fs::read_to_string(self.dir.join("summary.json")).expect("summary.json");
        serde_json::from_str(&text).expect("summary JSON")
    }
}

impl Drop for Appliance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request over a fresh connection: status and body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    token: Option<&str>,
) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut data = raw[split + 4..].to_vec();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        data = dechunk(&data);
    }
    (status, data)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        let Some(chunk) = b.get(eol + 2..eol + 2 + size).filter(|_| size > 0) else {
            break;
        };
        out.extend_from_slice(chunk);
        b = b.get(eol + 2 + size + 2..).unwrap_or(&[]);
    }
    out
}

fn json(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    token: Option<&str>,
) -> (u16, Value) {
    let (status, bytes) = http(addr, method, path, body, token);
    let v = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{method} {path}: not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, v)
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A real Prometheus scrapes `ferrocap run`; a PromQL query through its
/// HTTP API sees the worker packet counter, consistent with the summary.
#[test]
fn prometheus_scrapes_a_running_capture() {
    assert!(
        have("prometheus"),
        "the prometheus server is not installed: run `bash deploy/test.sh` (it installs the Debian package)"
    );
    let test = "prom";
    let dir = tempfile::tempdir().expect("tempdir");
    let app = Appliance::start(
        dir.path(),
        &config(
            test,
            dir.path(),
            "[control]\nbind = \"127.0.0.1:0\"\n\n[[dump]]\nname = \"syn\"\nexpression = \"tcpfl = SYN\"\npath = \"dumps/syn.pcap\"\nformat = \"pcap\"\n",
        ),
    );
    // Our own exposition first.
    let (status, text) = http(app.addr, "GET", "/metrics", "", None);
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&text).to_string();
    assert!(
        text.contains("ferrocap_port_link_up{port=\"net_pcap0\"} 1"),
        "{text}"
    );
    // build_info names the DPDK that pkg-config reports.
    let modversion = std::process::Command::new("pkg-config")
        .args(["--modversion", "libdpdk"])
        .output()
        .expect("pkg-config");
    let dpdk = String::from_utf8_lossy(&modversion.stdout)
        .trim()
        .to_owned();
    assert!(!dpdk.is_empty());
    assert!(
        text.contains(&format!(
            "ferrocap_build_info{{dpdk=\"{dpdk}\",version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );

    let prom_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let prom_cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &prom_cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: ferrocap\n    static_configs:\n      - targets: ['{}']\n",
            app.addr
        ),
    )
    .expect("prometheus.yml");
    let mut prom = Command::new("prometheus")
        .arg(format!("--config.file={}", prom_cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    let prom_addr: SocketAddr = format!("127.0.0.1:{prom_port}").parse().expect("addr");
    let deadline = Instant::now() + Duration::from_secs(90);
    let value = loop {
        // Until it is ready, Prometheus answers 503 in plain text.
        let got = TcpStream::connect(prom_addr)
            .ok()
            .map(|_| {
                http(
                    prom_addr,
                    "GET",
                    "/api/v1/query?query=ferrocap_worker_rx_packets_total",
                    "",
                    None,
                )
            })
            .filter(|(status, _)| *status == 200)
            .map(|(status, bytes)| {
                let v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                    panic!("query: not JSON ({e}): {}", String::from_utf8_lossy(&bytes))
                });
                (status, v)
            });
        if let Some((200, v)) = &got {
            assert_eq!(v["status"], "success", "{v}");
            let result = &v["data"]["result"];
            if let Some(r) = result.as_array().and_then(|a| a.first()) {
                assert_eq!(r["metric"]["job"], "ferrocap", "{v}");
                assert_eq!(r["metric"]["worker"], "0", "{v}");
                let value: f64 = r["value"][1]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("no value: {v}"));
                if value > 0.0 {
                    eprintln!("PromQL ferrocap_worker_rx_packets_total = {value}");
                    break value;
                }
            }
        }
        if Instant::now() > deadline {
            let _ = prom.kill();
            panic!("prometheus never returned a sample: {got:?}");
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let (_, up) = json(prom_addr, "GET", "/api/v1/query?query=up", "", None);
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up}");
    let _ = prom.kill();
    let _ = prom.wait();
    let summary = app.stop();
    cleanup(test);
    assert_eq!(summary["identities_ok"], Value::Bool(true), "{summary}");
    let rx = n(&summary["counters"]["workers"][0]["rx"]);
    assert!(
        value >= 1.0 && value <= rx as f64,
        "PromQL {value}, final rx {rx}"
    );
    // The latency of the dump is in the summary.
    let syn = summary["counters"]["outputs"]
        .as_array()
        .and_then(|a| a.iter().find(|o| o["name"] == "syn"))
        .expect("syn output");
    assert_eq!(n(&syn["latency_ns"]["count"]), n(&syn["written"]), "{syn}");
    assert!(n(&syn["latency_ns"]["p99"]) >= n(&syn["latency_ns"]["p50"]));
}

/// While `net_pcap` replays in a loop: the packet-logging expression is
/// replaced 100 times through the API, and a dump is created, started,
/// stopped and downloaded. At exit the accounting holds exactly for every
/// worker and every output, the removed ones included.
#[test]
fn hot_changes_under_traffic_keep_the_accounting_exact() {
    let test = "hot";
    let dir = tempfile::tempdir().expect("tempdir");
    let token = Some("t0k3n");
    let app = Appliance::start(
        dir.path(),
        &config(
            test,
            dir.path(),
            &format!(
                "[packet_logging]\nexpression = \"tcpfl = SYN -ACK\"\n\n[control]\nbind = \"127.0.0.1:0\"\ntoken = \"t0k3n\"\ndump_dir = \"{}\"\n",
                dir.path().join("api-dumps").display()
            ),
        ),
    );
    let addr = app.addr;
    let (status, _) = json(addr, "GET", "/readyz", "", None);
    assert_eq!(status, 200);
    // Without the token nothing changes.
    let (status, v) = json(
        addr,
        "PUT",
        "/api/v1/packet-logging",
        r#"{"expression": "any"}"#,
        None,
    );
    assert_eq!(status, 401, "{v}");
    let (_, s0) = json(addr, "GET", "/api/v1/status", "", None);
    let gen0 = n(&s0["generation"]);
    let mut hot_written = None;
    for i in 0..100 {
        let expr = if i % 2 == 0 {
            "dport = 443"
        } else {
            "tcpfl = SYN -ACK"
        };
        let (status, v) = json(
            addr,
            "PUT",
            "/api/v1/packet-logging",
            &format!("{{\"expression\": \"{expr}\"}}"),
            token,
        );
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["expression"], expr);
        match i {
            10 => {
                let (status, v) = json(
                    addr,
                    "POST",
                    "/api/v1/dumps",
                    r#"{"name": "hot", "expression": "tcpfl = SYN", "format": "pcap", "start": false}"#,
                    token,
                );
                assert_eq!(status, 201, "{v}");
                assert_eq!(v["state"], "stopped");
            }
            20 => {
                let (status, v) = json(addr, "POST", "/api/v1/dumps/hot/start", "", token);
                assert_eq!(status, 200, "{v}");
                assert_eq!(v["state"], "running");
            }
            60 => {
                let (status, v) = json(addr, "POST", "/api/v1/dumps/hot/stop", "", token);
                assert_eq!(status, 200, "{v}");
                assert_eq!(v["state"], "stopped");
                hot_written = Some(n(&v["written"]));
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let hot_written = hot_written.expect("stopped");
    assert!(hot_written > 0);
    let (_, s1) = json(addr, "GET", "/api/v1/status", "", None);
    // 100 swaps, the dump's start and its stop.
    assert_eq!(n(&s1["generation"]), gen0 + 100 + 2, "{s1}");

    // The download opens in tshark with the API's frame count.
    let (status, bytes) = http(addr, "GET", "/api/v1/dumps/hot/download", "", None);
    assert_eq!(status, 200);
    let file = dir.path().join("hot-download.pcap");
    std::fs::write(&file, &bytes).expect("write download");
    let mut r = CaptureReader::open(&file).expect("open download");
    let mut records = 0u64;
    while r.next_record().expect("record").is_some() {
        records += 1;
    }
    assert_eq!(records, hot_written);
    assert_eq!(common::tshark_count(&file), hot_written, "tshark -r");
    assert!(dir.path().join("api-dumps").join("hot.pcap").is_file());

    let summary = app.stop();
    cleanup(test);
    assert_eq!(summary["identities_ok"], Value::Bool(true), "{summary}");
    for w in summary["counters"]["workers"].as_array().expect("workers") {
        assert!(n(&w["rx"]) > 0, "{w}");
        assert_eq!(n(&w["rx"]), n(&w["matched"]) + n(&w["unmatched"]), "{w}");
    }
    let outputs: Vec<&Value> = summary["counters"]["outputs"]
        .as_array()
        .into_iter()
        .chain(summary["counters"]["removed"].as_array())
        .flatten()
        .collect();
    let names: Vec<&str> = outputs.iter().filter_map(|o| o["name"].as_str()).collect();
    assert_eq!(names, ["packet_logging", "hot"], "{summary}");
    for o in &outputs {
        assert_eq!(
            n(&o["matched"]),
            n(&o["written"])
                + n(&o["dropped_queue_full"])
                + n(&o["dropped_write_error"])
                + n(&o["dropped_limit"]),
            "{o}"
        );
        assert_eq!(n(&o["in_flight"]), 0, "{o}");
    }
    let hot = outputs.iter().find(|o| o["name"] == "hot").expect("hot");
    assert_eq!(n(&hot["written"]), hot_written, "{hot}");
    let pl = outputs[0];
    assert_eq!(pl["expression"], "tcpfl = SYN -ACK", "the 100th expression");
    assert!(n(&pl["matched"]) > 0);
}
