//! The router in process over a real runtime fed by a throttled
//! `MemorySource` (no DPDK): every route with good and bad input, auth,
//! the body limit, the OpenAPI document against the route table, and the
//! exposition through `promtool check metrics`.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use ferrocap_dataplane::expr::Directory;
use ferrocap_dataplane::log::{LogConfig, Logger, LoggerGuard, OutputKind as LogOutput};
use ferrocap_dataplane::pcap::CaptureReader;
use ferrocap_dataplane::runtime::{Classifier, Runtime, RuntimeConfig};
use ferrocap_dataplane::source::{MemorySource, OwnedBurst, PacketMeta, PacketSource, SourceError};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::{ControlOptions, ControlPlane};

/// An Ethernet/IPv4/TCP frame.
fn tcp_frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&[0, 0x11, 0x22, 0x33, 0x44, 0x55]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    f[14] = 0x45;
    f[16..18].copy_from_slice(&46u16.to_be_bytes());
    f[22] = 64;
    f[23] = 6;
    f[26..30].copy_from_slice(&src);
    f[30..34].copy_from_slice(&dst);
    f[34..36].copy_from_slice(&sport.to_be_bytes());
    f[36..38].copy_from_slice(&dport.to_be_bytes());
    f[46] = 0x50;
    f[47] = flags;
    f
}

/// A looping source that sleeps 1 ms per burst (about 32 kpps), so the
/// tests do not take a whole core.
struct Throttled(MemorySource);

impl PacketSource for Throttled {
    type Burst = OwnedBurst;

    fn new_burst(&self) -> OwnedBurst {
        self.0.new_burst()
    }

    fn recv_burst(&mut self, out: &mut OwnedBurst) -> Result<usize, SourceError> {
        std::thread::sleep(Duration::from_millis(1));
        self.0.recv_burst(out)
    }
}

struct Harness {
    plane: ControlPlane,
    router: Router,
    dir: tempfile::TempDir,
    workers: Vec<JoinHandle<()>>,
    guard: Option<LoggerGuard>,
}

impl Harness {
    fn new(token: Option<&str>) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("log")).expect("log dir");
        let (logger, guard) = Logger::start(LogConfig {
            output: LogOutput::File,
            dir: dir.path().join("log"),
            ..LogConfig::default()
        })
        .expect("logger");
        let runtime = Runtime::new(
            RuntimeConfig {
                workers: 2,
                ring_slots: 512,
                slot_bytes: 256,
                flush_interval: Duration::from_millis(50),
                publish_every: 4,
            },
            Classifier::default(),
            Some(logger.clone()),
        )
        .expect("runtime");
        let directory = Directory::builder()
            .user("alice", &["10.0.0.5"])
            .build()
            .expect("directory");
        let plane = ControlPlane::new(
            runtime.clone(),
            directory,
            Some(logger),
            ControlOptions {
                token: token.map(str::to_owned),
                dump_dir: dir.path().join("dumps"),
                stats_log: Some(dir.path().join("log").join("ferrocap-stats")),
                version: "0.1.0-test".into(),
                dpdk_version: String::new(),
            },
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let frames: Vec<(Vec<u8>, PacketMeta)> = (0..64u16)
            .map(|i| {
                let host = u8::try_from(i % 8).unwrap_or(0);
                let f = tcp_frame(
                    [10, 0, 0, host],
                    [192, 168, 1, 10],
                    40000 + i,
                    [80, 443][usize::from(i % 2)],
                    if i % 4 == 0 { 0x02 } else { 0x10 },
                );
                (
                    f,
                    PacketMeta {
                        timestamp_ns: now,
                        ..PacketMeta::default()
                    },
                )
            })
            .collect();
        let workers = runtime
            .workers()
            .expect("workers")
            .into_iter()
            .map(|mut w| {
                let mut src = Throttled(MemorySource::looping(frames.clone()));
                std::thread::spawn(move || {
                    let _ = w.run(&mut src);
                })
            })
            .collect();
        plane.set_ready(true);
        let router = plane.router();
        Harness {
            plane,
            router,
            dir,
            workers,
            guard: Some(guard),
        }
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        body: &str,
        token: Option<&str>,
    ) -> (StatusCode, Vec<u8>) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = req.body(Body::from(body.to_owned())).expect("request");
        let resp = self.router.clone().oneshot(req).await.expect("response");
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        (status, bytes)
    }

    /// A request that must give JSON with `want`.
    async fn json(&self, method: &str, uri: &str, body: &str, want: StatusCode) -> Value {
        let (status, bytes) = self.call(method, uri, body, None).await;
        let text = String::from_utf8_lossy(&bytes);
        assert_eq!(status, want, "{method} {uri} {body}: {text}");
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{method} {uri}: not JSON ({e}): {text}"))
    }

    /// Waits until dump `name` has written at least `n` packets.
    async fn wait_written(&self, name: &str, n: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let d = self.json("GET", "/api/v1/dumps", "", StatusCode::OK).await;
            let dump = d["dumps"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["name"] == name).cloned())
                .unwrap_or(Value::Null);
            if dump["written"].as_u64().unwrap_or(0) >= n {
                return dump;
            }
            assert!(
                Instant::now() < deadline,
                "dump {name} wrote too little: {dump}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let rt = self.plane.runtime().clone();
        rt.stop();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        let snap = rt.finish(Duration::from_secs(5));
        if !std::thread::panicking() {
            assert_eq!(snap.check(true), Ok(()), "{snap:?}");
        }
        if let Some(g) = self.guard.take() {
            let _ = g.shutdown();
        }
    }
}

fn error_message(v: &Value) -> &str {
    v["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.message in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_json_4xx_never_a_5xx() {
    let h = Harness::new(None);
    let big = format!("{{\"expression\":\"{}\"}}", "a".repeat(70 * 1024));
    let cases: &[(&str, &str, &str, u16)] = &[
        ("PUT", "/api/v1/packet-logging", "{", 400),
        ("PUT", "/api/v1/packet-logging", "", 400),
        ("PUT", "/api/v1/packet-logging", r#"{"expression": 5}"#, 400),
        ("PUT", "/api/v1/packet-logging", r#"{"expr": "any"}"#, 400),
        (
            "PUT",
            "/api/v1/packet-logging",
            r#"{"expression": "tcpfl = SYN &"}"#,
            400,
        ),
        ("PUT", "/api/v1/packet-logging", &big, 413),
        ("POST", "/api/v1/expressions/check", "not json", 400),
        (
            "POST",
            "/api/v1/expressions/check",
            r#"{"expression": "port = 99999"}"#,
            400,
        ),
        (
            "POST",
            "/api/v1/expressions/check",
            r#"{"expression": "user:\"bob\" = addr"}"#,
            400,
        ),
        ("POST", "/api/v1/expressions/check", &big, 413),
        (
            "POST",
            "/api/v1/dumps",
            r#"{"name": "../x", "expression": "any"}"#,
            400,
        ),
        (
            "POST",
            "/api/v1/dumps",
            r#"{"name": "a/b", "expression": "any"}"#,
            400,
        ),
        (
            "POST",
            "/api/v1/dumps",
            r#"{"name": "..", "expression": "any"}"#,
            400,
        ),
        (
            "POST",
            "/api/v1/dumps",
            r#"{"name": "", "expression": "any"}"#,
            400,
        ),
        (
            "POST",
            "/api/v1/dumps",
            r#"{"name": ".hidden", "expression": "any"}"#,
            400,
        ),
        (
            "POST",
            "/api/v1/dumps",
            r#"{"name": "packet_logging", "expression": "any"}"#,
            409,
        ),
        (
            "POST",
            "/api/v1/dumps",
            r#"{"name": "x", "expression": "any", "format": "pcapx"}"#,
            400,
        ),
        (
            "POST",
            "/api/v1/dumps",
            r#"{"name": "x", "expression": "any", "snaplen": 0}"#,
            400,
        ),
        (
            "POST",
            "/api/v1/dumps",
            r#"{"name": "x", "expression": "any", "rotation": {"max_files": 0}}"#,
            400,
        ),
        (
            "POST",
            "/api/v1/dumps",
            r#"{"name": "x", "expression": "any", "rotation": {"bogus": 1}}"#,
            400,
        ),
        (
            "POST",
            "/api/v1/dumps",
            r#"{"name": "x", "expression": "dport ="}"#,
            400,
        ),
        (
            "POST",
            "/api/v1/dumps",
            r#"{"name": "x", "expression": "any", "colour": "red"}"#,
            400,
        ),
        ("POST", "/api/v1/dumps", "[]", 400),
        ("POST", "/api/v1/dumps/nosuch/start", "", 404),
        ("POST", "/api/v1/dumps/nosuch/stop", "", 404),
        ("DELETE", "/api/v1/dumps/nosuch", "", 404),
        ("GET", "/api/v1/dumps/nosuch/download", "", 404),
        ("POST", "/api/v1/dumps/../start", "", 400),
        ("POST", "/api/v1/dumps/..%2Fx/start", "", 400),
        ("GET", "/api/v1/dumps/%2E%2E/download", "", 400),
        (
            "GET",
            "/api/v1/dumps/..%2F..%2Fetc%2Fpasswd/download",
            "",
            400,
        ),
        ("DELETE", "/api/v1/dumps/a%2Fb", "", 400),
        ("POST", "/api/v1/dumps/a/b/start", "", 404),
        ("GET", "/api/v1/dumps/%FF/download", "", 400),
        ("PUT", "/api/v1/log/level", r#"{"level": 2}"#, 400),
        ("PUT", "/api/v1/log/level", r#"{"level": 300}"#, 400),
        ("PUT", "/api/v1/log/level", r#"{"level": "loud"}"#, 400),
        ("PUT", "/api/v1/log/level", r#"{"level": true}"#, 400),
        ("PUT", "/api/v1/log/level", "{}", 400),
        (
            "PUT",
            "/api/v1/users",
            r#"{"users": {"bob": ["not-an-ip"]}}"#,
            400,
        ),
        ("PUT", "/api/v1/users", r#"{"users": []}"#, 400),
        ("PUT", "/api/v1/users", &big, 413),
        ("GET", "/api/v1/packet-logging/tail?lines=abc", "", 400),
        ("GET", "/api/v1/packet-logging/tail?lines=-1", "", 400),
        ("PATCH", "/api/v1/status", "", 405),
        ("DELETE", "/api/v1/status", "", 405),
        ("POST", "/metrics", "", 405),
        ("GET", "/api/v1/users", "", 405),
        ("PUT", "/api/v1/dumps/x/download", "", 405),
        ("GET", "/nope", "", 404),
        ("GET", "/api/v2/status", "", 404),
    ];
    for (method, uri, body, want) in cases {
        let (status, bytes) = h.call(method, uri, body, None).await;
        let text = String::from_utf8_lossy(&bytes);
        assert_eq!(
            status.as_u16(),
            *want,
            "{method} {uri} {:.80}: {text}",
            body
        );
        assert!(!status.is_server_error());
        let v: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{method} {uri}: not JSON ({e}): {text}"));
        assert!(!error_message(&v).is_empty(), "{v}");
    }
    // Expression errors carry the position.
    let v = h
        .json(
            "POST",
            "/api/v1/expressions/check",
            r#"{"expression": "tcpfl = SYN &"}"#,
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert_eq!(v["error"]["line"], 1, "{v}");
    assert_eq!(v["error"]["char"], 14, "{v}");
    assert!(error_message(&v).contains("expected"), "{v}");
    let v = h
        .json(
            "PUT",
            "/api/v1/packet-logging",
            "{\"expression\": \"any |\\n dport = 70000\"}",
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert_eq!(
        (v["error"]["line"].as_u64(), v["error"]["char"].as_u64()),
        (Some(2), Some(10)),
        "{v}"
    );
    // Nothing was created by the bad requests; no file escaped the dump dir.
    let d = h.json("GET", "/api/v1/dumps", "", StatusCode::OK).await;
    assert_eq!(d["dumps"], json!([]));
    assert!(!h.dir.path().join("x").exists());
    assert_eq!(
        h.json("GET", "/api/v1/packet-logging", "", StatusCode::OK)
            .await,
        json!({"expression": null})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_need_the_token_when_one_is_set() {
    let h = Harness::new(Some("s3cret"));
    let body = r#"{"expression": "tcpfl = SYN"}"#;
    for token in [None, Some("wrong"), Some("s3cret-and-more"), Some("")] {
        for (method, uri, body) in [
            ("PUT", "/api/v1/packet-logging", body),
            ("DELETE", "/api/v1/packet-logging", ""),
            (
                "POST",
                "/api/v1/dumps",
                r#"{"name": "x", "expression": "any"}"#,
            ),
            ("POST", "/api/v1/dumps/x/start", ""),
            ("PUT", "/api/v1/log/level", r#"{"level": 7}"#),
            ("PUT", "/api/v1/users", r#"{"users": {}}"#),
        ] {
            let (status, bytes) = h.call(method, uri, body, token).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri} {token:?}");
            let v: Value = serde_json::from_slice(&bytes).expect("JSON");
            assert!(error_message(&v).contains("token"), "{v}");
        }
    }
    // The scheme is case-insensitive; the token is not.
    for (auth, want) in [
        ("bearer s3cret", StatusCode::OK),
        ("BEARER s3cret", StatusCode::OK),
        ("bearer S3CRET", StatusCode::UNAUTHORIZED),
        ("Basic s3cret", StatusCode::UNAUTHORIZED),
    ] {
        let req = Request::builder()
            .method("PUT")
            .uri("/api/v1/log/level")
            .header(header::AUTHORIZATION, auth)
            .body(Body::from(r#"{"level": 5}"#))
            .expect("request");
        let resp = h.router.clone().oneshot(req).await.expect("response");
        assert_eq!(resp.status(), want, "{auth}");
    }
    // Reads need none (checking an expression changes nothing); the right
    // token passes.
    let (status, _) = h.call("GET", "/api/v1/status", "", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .call("POST", "/api/v1/expressions/check", body, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, bytes) = h
        .call("PUT", "/api/v1/packet-logging", body, Some("s3cret"))
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    let (status, _) = h
        .call(
            "PUT",
            "/api/v1/log/level",
            r#"{"level": "debug"}"#,
            Some("s3cret"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.plane.log_level().map(|l| l.get()), Some(7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_health_and_packet_logging() {
    let h = Harness::new(None);
    assert_eq!(
        h.json("GET", "/healthz", "", StatusCode::OK).await,
        json!({"status": "ok"})
    );
    assert_eq!(
        h.json("GET", "/readyz", "", StatusCode::OK).await,
        json!({"status": "ready"})
    );
    h.plane.set_ready(false);
    h.json("GET", "/readyz", "", StatusCode::SERVICE_UNAVAILABLE)
        .await;
    h.plane.set_ready(true);

    let v = h
        .json(
            "PUT",
            "/api/v1/packet-logging",
            r#"{"expression": "tcpfl = SYN -ACK"}"#,
            StatusCode::OK,
        )
        .await;
    assert_eq!(v["expression"], "tcpfl = SYN -ACK");
    assert_eq!(v["normalized"], "(tcpfl = SYN -ACK)");
    assert_eq!(v["warnings"], json!([]));
    // A replacement is a hot swap of the same output.
    let v = h
        .json(
            "PUT",
            "/api/v1/packet-logging",
            r#"{"expression": "port >= 80 & port <= 443"}"#,
            StatusCode::OK,
        )
        .await;
    assert_eq!(v["warnings"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(
        h.json("GET", "/api/v1/packet-logging", "", StatusCode::OK)
            .await,
        json!({"expression": "port >= 80 & port <= 443"})
    );
    // Records reach the stats log and the tail.
    let deadline = Instant::now() + Duration::from_secs(20);
    let lines = loop {
        let v = h
            .json(
                "GET",
                "/api/v1/packet-logging/tail?lines=3",
                "",
                StatusCode::OK,
            )
            .await;
        let lines = v["lines"].as_array().cloned().unwrap_or_default();
        if lines.len() == 3 {
            break lines;
        }
        assert!(Instant::now() < deadline, "no packet-log records: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for l in &lines {
        let l = l.as_str().unwrap_or("");
        assert!(l.contains("PFLG-888-I PACKET "), "{l}");
    }
    let s = h.json("GET", "/api/v1/status", "", StatusCode::OK).await;
    assert_eq!(s["version"], "0.1.0-test");
    assert_eq!(s["log_level"], json!({"level": 5, "name": "normal"}));
    assert_eq!(s["workers"].as_array().map(Vec::len), Some(2));
    assert!(s["totals"]["rx_packets"].as_u64() > Some(0), "{s}");
    assert_eq!(s["outputs"][0]["name"], "packet_logging");
    assert_eq!(s["outputs"][0]["kind"], "packet_log");
    let o = &s["outputs"][0];
    let drops: u64 = ["queue_full", "write_error", "limit"]
        .iter()
        .map(|k| o["dropped"][k].as_u64().expect("drop reason"))
        .sum();
    assert!(drops <= o["matched"].as_u64().unwrap_or(0), "{o}");
    assert!(o["written"].as_u64() > Some(0), "{o}");
    let gen = s["generation"].as_u64().unwrap_or(0);
    assert_eq!(gen, 3, "{s}");
    assert_eq!(
        h.json("DELETE", "/api/v1/packet-logging", "", StatusCode::OK)
            .await,
        json!({"expression": null})
    );
    // Deleting again is fine (Kerio's "cancel").
    h.json("DELETE", "/api/v1/packet-logging", "", StatusCode::OK)
        .await;
    let s = h.json("GET", "/api/v1/status", "", StatusCode::OK).await;
    assert_eq!(s["outputs"], json!([]));
    assert_eq!(s["generation"], 4);

    let c = h
        .json(
            "POST",
            "/api/v1/expressions/check",
            r#"{"expression": "dport=80&saddr=10.0.0.0/8"}"#,
            StatusCode::OK,
        )
        .await;
    assert_eq!(c["normalized"], "((dport = 80) & (saddr = 10.0.0.0/8))");
    assert!(c["plan"].as_str().is_some_and(|p| !p.is_empty()), "{c}");

    assert_eq!(
        h.json("GET", "/api/v1/log/level", "", StatusCode::OK).await,
        json!({"level": 5, "name": "normal"})
    );
    for (body, want) in [
        (r#"{"level": 7}"#, json!({"level": 7, "name": "debug"})),
        (
            r#"{"level": "warning"}"#,
            json!({"level": 4, "name": "warning"}),
        ),
        (r#"{"level": "6"}"#, json!({"level": 6, "name": "info"})),
        (
            r#"{"level": "NORMAL"}"#,
            json!({"level": 5, "name": "normal"}),
        ),
    ] {
        assert_eq!(
            h.json("PUT", "/api/v1/log/level", body, StatusCode::OK)
                .await,
            want
        );
        assert_eq!(
            h.json("GET", "/api/v1/log/level", "", StatusCode::OK).await,
            want
        );
    }
    for (path, ctype) in [
        ("/", "text/html"),
        ("/app.js", "text/javascript"),
        ("/style.css", "text/css"),
        ("/api/v1/openapi.json", "application/json"),
        ("/metrics", "text/plain"),
    ] {
        let resp = h
            .router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).expect("req"))
            .await
            .expect("resp");
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let got = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(got.starts_with(ctype), "{path}: {got}");
    }
}

fn count_records(path: &Path) -> u64 {
    let mut r = CaptureReader::open(path).expect("open");
    let mut n = 0;
    while r.next_record().expect("record").is_some() {
        n += 1;
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dumps_create_start_stop_download_delete() {
    let h = Harness::new(None);
    let d = h
        .json(
            "POST",
            "/api/v1/dumps",
            r#"{"name": "web-1", "expression": "dport = 80", "format": "pcap", "rotation": {"max_file_bytes": 4000, "max_files": 3}}"#,
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(d["state"], "running");
    assert_eq!(d["source"], "api");
    assert_eq!(d["format"], "pcap");
    assert_eq!(
        d["rotation"],
        json!({"max_file_bytes": 4000, "max_file_seconds": null, "max_files": 3})
    );
    let path = PathBuf::from(d["path"].as_str().unwrap_or(""));
    assert_eq!(path, h.dir.path().join("dumps").join("web-1.pcap"));
    h.json(
        "POST",
        "/api/v1/dumps",
        r#"{"name": "web-1", "expression": "any"}"#,
        StatusCode::CONFLICT,
    )
    .await;
    h.json(
        "POST",
        "/api/v1/dumps/web-1/start",
        "",
        StatusCode::CONFLICT,
    )
    .await;
    // Enough packets to rotate a few times (60-byte frames, 4000-byte files).
    h.wait_written("web-1", 300).await;
    let d = h
        .json("POST", "/api/v1/dumps/web-1/stop", "", StatusCode::OK)
        .await;
    assert_eq!(d["state"], "stopped");
    h.json("POST", "/api/v1/dumps/web-1/stop", "", StatusCode::CONFLICT)
        .await;
    let files = d["files"].as_array().cloned().unwrap_or_default();
    assert_eq!(files.len(), 3, "{d}");
    assert_eq!(files[2]["name"], "web-1.pcap");
    assert_eq!(files[0]["name"], "web-1.2.pcap");
    let on_disk: u64 = files.iter().filter_map(|f| f["bytes"].as_u64()).sum();
    assert_eq!(d["file_bytes"].as_u64(), Some(on_disk));

    // The download is the kept files merged, oldest first, one header.
    let resp = h
        .router
        .clone()
        .oneshot(
            Request::get("/api/v1/dumps/web-1/download")
                .body(Body::empty())
                .expect("req"),
        )
        .await
        .expect("resp");
    assert_eq!(resp.status(), StatusCode::OK);
    let hv = |k| {
        resp.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(hv(header::CONTENT_TYPE), "application/vnd.tcpdump.pcap");
    assert_eq!(
        hv(header::CONTENT_DISPOSITION),
        "attachment; filename=\"web-1.pcap\""
    );
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let merged = h.dir.path().join("merged.pcap");
    std::fs::write(&merged, &bytes).expect("write");
    let want: u64 = files
        .iter()
        .map(|f| count_records(&path.with_file_name(f["name"].as_str().unwrap_or(""))))
        .sum();
    assert_eq!(count_records(&merged), want);
    assert_eq!(
        bytes.len() as u64,
        on_disk - 24 * 2,
        "one pcap header, not three"
    );
    let mut r = CaptureReader::open(&merged).expect("open");
    let mut last = 0;
    while let Some(rec) = r.next_record().expect("record") {
        assert_eq!(rec.data.get(36..38), Some(&80u16.to_be_bytes()[..]));
        assert!(rec.ts_nanos >= last);
        last = rec.ts_nanos;
    }

    // Start again: a fresh capture.
    let d = h
        .json("POST", "/api/v1/dumps/web-1/start", "", StatusCode::OK)
        .await;
    assert_eq!(d["state"], "running");
    assert_eq!(d["written"], 0);
    h.wait_written("web-1", 1).await;
    // pcapng by default, created stopped.
    let d = h
        .json(
            "POST",
            "/api/v1/dumps",
            r#"{"name": "syn", "expression": "tcpfl = SYN", "start": false}"#,
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(d["state"], "stopped");
    assert_eq!(d["format"], "pcapng");
    let list = h.json("GET", "/api/v1/dumps", "", StatusCode::OK).await;
    let names: Vec<&str> = list["dumps"]
        .as_array()
        .map(|a| a.iter().filter_map(|d| d["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["syn", "web-1"]);
    let resp = h.call("GET", "/api/v1/dumps/syn/download", "", None).await;
    assert_eq!(resp.0, StatusCode::OK);

    // Metrics count the dump's two runs together.
    let text = h.plane.metrics_text();
    assert!(
        text.contains("ferrocap_output_active{output=\"web-1\"} 1"),
        "{text}"
    );

    assert_eq!(
        h.json("DELETE", "/api/v1/dumps/web-1", "", StatusCode::OK)
            .await,
        json!({"deleted": "web-1"})
    );
    assert!(!path.exists());
    assert!(!path.with_file_name("web-1.1.pcap").exists());
    h.json("DELETE", "/api/v1/dumps/syn", "", StatusCode::OK)
        .await;
    // The number of dumps is bounded.
    for i in 0..crate::state::MAX_DUMPS {
        h.json(
            "POST",
            "/api/v1/dumps",
            &format!(r#"{{"name": "d{i}", "expression": "any", "start": false}}"#),
            StatusCode::CREATED,
        )
        .await;
    }
    let v = h
        .json(
            "POST",
            "/api/v1/dumps",
            r#"{"name": "one-more", "expression": "any", "start": false}"#,
            StatusCode::CONFLICT,
        )
        .await;
    assert!(error_message(&v).contains("delete one first"), "{v}");
    h.json(
        "GET",
        "/api/v1/dumps/web-1/download",
        "",
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_replacement_recompiles_active_expressions() {
    let h = Harness::new(None);
    h.json(
        "PUT",
        "/api/v1/packet-logging",
        r#"{"expression": "saddr = user:\"alice\""}"#,
        StatusCode::OK,
    )
    .await;
    h.json(
        "POST",
        "/api/v1/dumps",
        r#"{"name": "alice", "expression": "addr = user:\"alice\" & dport = 80"}"#,
        StatusCode::CREATED,
    )
    .await;
    // alice is 10.0.0.5, who sends port 443 only (i % 8 = 5: odd).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let d = h.json("GET", "/api/v1/dumps", "", StatusCode::OK).await;
    assert_eq!(d["dumps"][0]["matched"], 0, "{d}");
    let v = h
        .json(
            "PUT",
            "/api/v1/users",
            r#"{"users": {"alice": ["10.0.0.4"], "bob": ["2001:db8::5"]}}"#,
            StatusCode::OK,
        )
        .await;
    assert_eq!(v, json!({"users": 2, "recompiled": 2}));
    h.wait_written("alice", 10).await;
    // A table that breaks an active expression changes nothing.
    let v = h
        .json(
            "PUT",
            "/api/v1/users",
            r#"{"users": {"bob": ["10.0.0.4"]}}"#,
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert!(error_message(&v).contains("alice"), "{v}");
    let c = h
        .json(
            "POST",
            "/api/v1/expressions/check",
            r#"{"expression": "saddr = user:\"bob\""}"#,
            StatusCode::OK,
        )
        .await;
    assert!(c["normalized"].as_str().is_some(), "{c}");
}

/// Every path of the route table is in the OpenAPI document with exactly
/// the methods the router answers (405 otherwise), and the other way round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_matches_the_router() {
    let doc: Value = serde_json::from_str(crate::OPENAPI_JSON).expect("openapi.json is JSON");
    assert_eq!(
        doc["openapi"].as_str().map(|v| v.starts_with("3.")),
        Some(true)
    );
    let paths = doc["paths"].as_object().expect("paths");
    let table: Vec<&str> = crate::api::routes().iter().map(|r| r.0).collect();
    let mut documented: Vec<&str> = paths.keys().map(String::as_str).collect();
    let mut routed = table.clone();
    documented.sort_unstable();
    routed.sort_unstable();
    assert_eq!(documented, routed, "paths in openapi.json vs the router");
    let h = Harness::new(None);
    for path in table {
        let uri = path.replace("{name}", "nosuch");
        for method in ["GET", "PUT", "POST", "DELETE", "PATCH"] {
            let in_doc = paths[path].get(method.to_ascii_lowercase()).is_some();
            let (status, bytes) = h.call(method, &uri, "", None).await;
            let text = String::from_utf8_lossy(&bytes);
            assert!(!status.is_server_error(), "{method} {uri}: {status} {text}");
            assert_eq!(
                status != StatusCode::METHOD_NOT_ALLOWED,
                in_doc,
                "{method} {path}: router says {status}, document says {in_doc}: {text}"
            );
            if in_doc {
                let declared = paths[path][method.to_ascii_lowercase()]["responses"]
                    .get(status.as_str())
                    .is_some();
                assert!(declared, "{method} {path}: {status} is not in the document");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_have_every_contract_name_and_pass_promtool() {
    let h = Harness::new(None);
    h.plane.set_ports(vec![crate::PortStat {
        name: "net_pcap0".into(),
        port_id: 0,
        rx_packets: 10,
        rx_bytes: 600,
        imissed: 1,
        rx_nombuf: 2,
        rx_errors: 3,
        link_up: true,
    }]);
    h.json(
        "PUT",
        "/api/v1/packet-logging",
        r#"{"expression": "tcpfl = SYN"}"#,
        StatusCode::OK,
    )
    .await;
    h.json(
        "POST",
        "/api/v1/dumps",
        r#"{"name": "all", "expression": "any"}"#,
        StatusCode::CREATED,
    )
    .await;
    h.wait_written("all", 100).await;
    h.json("POST", "/api/v1/dumps/all/stop", "", StatusCode::OK)
        .await;
    h.json("POST", "/api/v1/dumps/all/start", "", StatusCode::OK)
        .await;
    let (status, bytes) = h.call("GET", "/metrics", "", None).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(bytes).expect("UTF-8");
    for name in crate::metrics::METRIC_NAMES {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} missing:\n{text}"
        );
    }
    for line in [
        "ferrocap_port_rx_missed_packets_total{port=\"net_pcap0\"} 1",
        "ferrocap_port_rx_nombuf_total{port=\"net_pcap0\"} 2",
        "ferrocap_port_rx_errors_total{port=\"net_pcap0\"} 3",
        "ferrocap_port_link_up{port=\"net_pcap0\"} 1",
        "ferrocap_build_info{dpdk=\"\",version=\"0.1.0-test\"} 1",
        "ferrocap_output_active{output=\"all\"} 1",
        "ferrocap_ring_capacity_slots{output=\"all\",worker=\"1\"} 512",
        "ferrocap_output_dropped_packets_total{kind=\"dump\",output=\"all\",reason=\"limit\"} 0",
        "ferrocap_worker_dropped_packets_total{reason=\"queue_full\",worker=\"0\"} 0",
        "ferrocap_output_set_generation 5",
    ] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    // One series per output, the two runs of "all" summed: its written
    // count covers at least the first run's.
    let written = text
        .lines()
        .find(|l| {
            l.starts_with("ferrocap_output_written_packets_total{kind=\"dump\",output=\"all\"}")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .expect("written series");
    assert!(written >= 100.0, "{text}");
    let hist_count = text
        .lines()
        .find(|l| l.starts_with("ferrocap_receive_to_write_latency_seconds_count{output=\"all\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .expect("latency count");
    assert!(hist_count >= 100.0, "{text}");

    let promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = promtool.expect(
        "promtool is not installed: run `bash deploy/test.sh` (it installs the Debian package `prometheus`)",
    );
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("write to promtool");
    }
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The server binds, answers over TCP, refuses a non-loopback address
/// without a token, and shuts down.
#[test]
fn server_serves_and_stops() {
    use std::io::{Read, Write};
    let h = Harness::new(None);
    let e =
        crate::Server::start(&h.plane, "0.0.0.0:0".parse().expect("addr")).expect_err("no token");
    assert!(matches!(e, crate::ServeError::NoToken(_)), "{e}");
    let server =
        crate::Server::start(&h.plane, "127.0.0.1:0".parse().expect("addr")).expect("start");
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    // The port is taken now.
    let e = crate::Server::start(&h.plane, addr).expect_err("in use");
    assert!(matches!(e, crate::ServeError::Bind { .. }), "{e}");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.ends_with("{\"status\":\"ok\"}"), "{resp}");
    server.shutdown();
    assert!(std::net::TcpStream::connect(addr).is_err());
}
