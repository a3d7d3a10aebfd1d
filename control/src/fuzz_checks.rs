//! The check behind the `control/fuzz` target `http`, as a library
//! function, so that the fuzz target and the test that replays its seed
//! corpus (`tests/fuzz_corpus.rs`) run the same code. It panics when the
//! control plane breaks its promise on a request; that is its purpose.
//! Not part of the crate's API.

use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request};
use ferrocap_dataplane::expr::{Directory, InterfaceKind};
use ferrocap_dataplane::log::{LogConfig, Logger, LoggerGuard, OutputKind as LogOutput};
use ferrocap_dataplane::runtime::{Classifier, Runtime, RuntimeConfig};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::{ControlOptions, ControlPlane};

/// One control plane for every input of a process: a runtime with one
/// worker that never runs (so nothing waits for it), dumps and logs under
/// a directory of its own in the temp dir, no token.
struct Harness {
    router: axum::Router,
    rt: tokio::runtime::Runtime,
    _plane: ControlPlane,
    _guard: LoggerGuard,
}

/// Where this process's harness keeps its dumps and logs (a test removes
/// it when done).
pub fn scratch_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ferrocap-fuzz-http-{}", std::process::id()))
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let dir = scratch_dir();
        std::fs::create_dir_all(dir.join("log")).expect("log dir");
        let (logger, guard) = Logger::start(LogConfig {
            output: LogOutput::File,
            dir: dir.join("log"),
            ..LogConfig::default()
        })
        .expect("logger");
        let runtime = Runtime::new(
            RuntimeConfig {
                workers: 1,
                ring_slots: 16,
                slot_bytes: 256,
                flush_interval: Duration::from_millis(50),
                publish_every: 4,
            },
            Classifier::default(),
            Some(logger.clone()),
        )
        .expect("runtime");
        let directory = Directory::builder()
            .interface("Internet", InterfaceKind::Ethernet)
            .user("alice", &["10.0.0.5"])
            .build()
            .expect("directory");
        let plane = ControlPlane::new(
            runtime,
            directory,
            Some(logger),
            ControlOptions {
                token: None,
                dump_dir: dir.join("dumps"),
                stats_log: Some(dir.join("log").join("ferrocap-stats")),
                version: "0.0.0-fuzz".into(),
                dpdk_version: String::new(),
            },
        );
        plane.set_ready(true);
        Harness {
            router: plane.router(),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime"),
            _plane: plane,
            _guard: guard,
        }
    })
}

const METHODS: [Method; 6] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
    Method::HEAD,
];

/// `input` is a request: its first byte picks the method (its low seven
/// bits) and whether the body is declared JSON (the top bit), the text up to the first newline is the path
/// and query, the rest is the body. Every request the router takes gets an
/// answer below 500, and every 4xx answer is JSON `{"error": {"message":
/// …}}`, as the crate promises. Inputs that are no valid HTTP request
/// (a bad URI) are skipped: hyper answers those before the router.
pub fn request_gets_a_clear_answer(input: &[u8]) {
    let Some((&knob, rest)) = input.split_first() else {
        return;
    };
    let (uri, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let Ok(uri) = std::str::from_utf8(uri) else {
        return;
    };
    let method = METHODS[usize::from(knob & 0x7f) % METHODS.len()].clone();
    let mut req = Request::builder().method(method.clone()).uri(uri);
    if knob & 0x80 != 0 {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let Ok(req) = req.body(Body::from(body.to_vec())) else {
        return;
    };
    let h = harness();
    let (status, bytes) = h.rt.block_on(async {
        let resp = h
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("the router answers");
        let status = resp.status();
        // A download streams a file; its first bytes are enough here.
        let bytes = resp.into_body().collect().await.map(|b| b.to_bytes());
        (status, bytes)
    });
    assert!(
        !status.is_server_error(),
        "{method} {uri}: {status} {bytes:?}"
    );
    if status.is_client_error() && method != Method::HEAD {
        let bytes = bytes.expect("an error body");
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{method} {uri}: {status}, not JSON ({e}): {bytes:?}"));
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{method} {uri}: {status} {v}"
        );
    }
}
