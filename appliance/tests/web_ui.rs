//! The web admin page end to end in headless Chromium.
//!
//! Starts `ferrocap run` (DPDK's `net_pcap` vdev replaying deploy/demo.pcap
//! in a loop, the control plane on a free loopback port, an API token set)
//! and runs `control/tests/web/web_ui.mjs` (playwright-core driving Debian's
//! `/usr/bin/chromium`) against it. The script uses the page as an operator
//! would: a bad expression shows its position, a dump is created, started,
//! stopped and downloaded, packet logging is set (with its tail) and
//! removed, the counters and the rate chart move, and a 401 asks for the
//! token. This test then reads the download with tshark: it must hold as
//! many frames as the API says the dump wrote.
//!
//! Node, Chromium and the script's `node_modules` come from
//! `bash deploy/test.sh`; without them this test fails and says so.
#![cfg(feature = "dpdk")]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const CHROMIUM: &str = "/usr/bin/chromium";
const TOKEN: &str = "web-ui-test-token";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn script_dir() -> PathBuf {
    repo().join("control/tests/web")
}

/// What the browser test needs, or why it cannot run.
fn prerequisites() -> Result<(), String> {
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("node is not installed".into());
    }
    if !Path::new(CHROMIUM).exists() {
        return Err(format!(
            "{CHROMIUM} is missing (Debian packages chromium, chromium-driver)"
        ));
    }
    if !script_dir().join("node_modules/playwright-core").is_dir() {
        return Err(format!(
            "playwright-core is not installed in {} (npm ci there)",
            script_dir().display()
        ));
    }
    if !common::tshark::available() {
        return Err("tshark is not installed".into());
    }
    Ok(())
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local address").port()
}

/// The status code of `GET path`, or None while nothing answers.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(head.get(9..12)?).ok()?.parse().ok()
}

/// Sends `SIG<sig>` with the shell's built-in `kill` (no extra package).
fn signal(pid: u32, sig: &str) {
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -{sig} {pid}"))
        .status();
}

/// Stops the appliance when the test ends, even on a failed assertion.
struct Appliance {
    child: Option<Child>,
    prefix: String,
}

impl Appliance {
    fn start(dir: &Path, port: u16, prefix: &str) -> Self {
        let pcap = repo().join("deploy/demo.pcap");
        let config = format!(
            r#"[eal]
args = ["-l", "0-1", "--no-huge", "-m", "256", "--no-pci", "--no-telemetry", "--no-shconf",
        "--file-prefix={prefix}", "--log-level=lib.eal:warning"]

[[port]]
name = "net_pcap0"
vdev = "net_pcap0,rx_pcap={pcap},infinite_rx=1"
rx_queues = 1
rx_descriptors = 1024
pool_size = 32767

[[interface]]
name = "Internet"
port = "net_pcap0"
direction = "by_mac"
mac = "00:1b:21:3c:4d:01"

[control]
bind = "127.0.0.1:{port}"
token = "{TOKEN}"
dump_dir = "dumps"

[log]
output = "file"
dir = "log"
level = 5
"#,
            pcap = pcap.display()
        );
        let path = dir.join("ferrocap.toml");
        std::fs::write(&path, config).expect("write config");
        let child = Command::new(env!("CARGO_BIN_EXE_ferrocap"))
            .arg("run")
            .arg("--config")
            .arg(&path)
            // A bound in case this test dies without stopping it.
            .args(["--duration", "600"])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("ferrocap.stderr")).expect("stderr file"))
            .spawn()
            .expect("start ferrocap run");
        Appliance {
            child: Some(child),
            prefix: prefix.to_string(),
        }
    }

    /// Waits until `/readyz` answers 200; panics with ferrocap's stderr if it exits first.
    fn wait_ready(&mut self, dir: &Path, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if http_status(port, "/readyz") == Some(200) {
                return;
            }
            let child = self.child.as_mut().expect("child");
            if let Ok(Some(st)) = child.try_wait() {
                panic!(
                    "ferrocap run exited ({st}) before the control plane was ready:\n{}",
                    std::fs::read_to_string(dir.join("ferrocap.stderr")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the control plane on port {port} was not ready within a minute"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Appliance {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "TERM");
            let deadline = Instant::now() + Duration::from_secs(20);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        for d in [
            std::env::var_os("XDG_RUNTIME_DIR").map(|d| Path::new(&d).join("dpdk")),
            Some(PathBuf::from("/var/run/dpdk")),
            Some(std::env::temp_dir().join("dpdk")),
        ]
        .into_iter()
        .flatten()
        {
            let _ = std::fs::remove_dir_all(d.join(&self.prefix));
        }
    }
}

/// Runs the Node script; returns its last stdout line parsed as JSON.
fn run_script(base: &str, out: &Path, dump: &str) -> Value {
    let mut child = Command::new("node")
        .arg("web_ui.mjs")
        .current_dir(script_dir())
        .env("FERROCAP_URL", base)
        .env("FERROCAP_OUT", out)
        .env("FERROCAP_DUMP", dump)
        .env("FERROCAP_TOKEN", TOKEN)
        .env("CHROMIUM", CHROMIUM)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    let deadline = Instant::now() + Duration::from_secs(300);
    while matches!(child.try_wait(), Ok(None)) {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let o = child.wait_with_output().expect("node output");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "web_ui.mjs failed ({}):\n{stderr}\n{stdout}",
        o.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("web_ui.mjs result {last:?}: {e}"))
}

#[test]
fn web_page_creates_starts_stops_and_downloads_a_dump() {
    if let Err(why) = prerequisites() {
        panic!(
            "the web UI test cannot run: {why}. Run `bash deploy/test.sh` \
             (it installs chromium, chromium-driver, node and the script's npm packages)"
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let prefix = format!("ferrocap-webui-{}", std::process::id());
    let mut appliance = Appliance::start(dir.path(), port, &prefix);
    appliance.wait_ready(dir.path(), port);

    let out = dir.path().join("browser");
    let dump = "webui-test";
    let result = run_script(&format!("http://127.0.0.1:{port}"), &out, dump);

    assert_eq!(result["dump"], dump, "{result}");
    let written = result["written"]
        .as_u64()
        .unwrap_or_else(|| panic!("no written count in {result}"));
    assert!(written > 0, "the dump wrote no packet: {result}");
    let download = PathBuf::from(result["download"].as_str().expect("download path"));
    assert_eq!(download, out.join(format!("{dump}.pcap")));
    let frames = common::tshark_count(&download);
    assert_eq!(
        frames, written,
        "the download holds {frames} frames, the API said {written} were written"
    );

    let shot = std::fs::read(out.join("web_ui.png")).expect("screenshot");
    assert!(
        shot.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the screenshot is a PNG"
    );
    // Keep the screenshot where a person can look at it after the run.
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web_ui.png");
    let _ = std::fs::write(&keep, &shot);
    eprintln!("web_ui: screenshot in {}", keep.display());
}
