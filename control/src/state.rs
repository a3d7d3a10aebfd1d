//! The control plane's state and every operation the API offers, without
//! HTTP: the packet-logging expression, the named dumps, the user table, the
//! log level and the status document. Every change goes through the
//! runtime's hot swap; operations that wait for the workers or a writer
//! thread (removing an output) block, so the HTTP layer runs them on a
//! blocking thread.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use ferrocap_dataplane::expr::{self, Compiled, Directory};
use ferrocap_dataplane::log::{catalog, Level, Logger};
use ferrocap_dataplane::pcap::DumpFormat;
use ferrocap_dataplane::runtime::{
    DumpSpec, OutputKind, OutputSnapshot, OutputSpec, Runtime, RuntimeError, Snapshot,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The output name of the packet log.
pub(crate) const PACKET_LOGGING: &str = "packet_logging";

/// At most this many dumps are defined at once (each running one holds a
/// ring per worker); creating another is 409.
pub(crate) const MAX_DUMPS: usize = 64;

/// Errors of the control plane's operations; the HTTP layer maps each to a
/// status code (shown per variant).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// 400: the request is malformed or a value is not acceptable.
    #[error("{0}")]
    BadRequest(String),
    /// 400: the expression does not compile; position 1-based.
    #[error("Line {line}, char {char}: {message}")]
    Expression {
        /// Line of the error.
        line: usize,
        /// Character in the line.
        char: usize,
        /// What is wrong (with the expected tokens).
        message: String,
    },
    /// 401: a mutating request without the right token.
    #[error("{0}")]
    Unauthorized(String),
    /// 404: no such dump (or route).
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists but not with this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: the request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is larger than [`crate::BODY_LIMIT`].
    #[error("{0}")]
    TooLarge(String),
    /// 500: the appliance itself failed (a file could not be created).
    #[error("{0}")]
    Internal(String),
}

impl From<expr::ExprError> for ControlError {
    fn from(e: expr::ExprError) -> Self {
        ControlError::Expression {
            line: e.line,
            char: e.char,
            message: e.message,
        }
    }
}

/// Settings of a [`ControlPlane`].
#[derive(Debug, Clone, Default)]
pub struct ControlOptions {
    /// Bearer token for mutating requests (`None`: no authentication).
    pub token: Option<String>,
    /// Where dumps created through the API are written (`NAME.FORMAT`).
    pub dump_dir: PathBuf,
    /// The stats log file, for `/api/v1/packet-logging/tail` (`None` when
    /// logging goes to syslog).
    pub stats_log: Option<PathBuf>,
    /// The version in `ferrocap_build_info` and the status.
    pub version: String,
    /// The DPDK version in `ferrocap_build_info` (empty: none).
    pub dpdk_version: String,
}

/// One port's counters as the main loop last read them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PortStat {
    /// The configured port name.
    pub name: String,
    /// The DPDK port id.
    pub port_id: u16,
    /// Packets received (`ipackets`).
    pub rx_packets: u64,
    /// Bytes received (`ibytes`).
    pub rx_bytes: u64,
    /// Packets the NIC dropped for want of a descriptor (`imissed`).
    pub imissed: u64,
    /// Receive failures for want of an mbuf (`rx_nombuf`).
    pub rx_nombuf: u64,
    /// Erroneous packets (`ierrors`).
    pub rx_errors: u64,
    /// Link state.
    pub link_up: bool,
}

/// Where a dump was defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DumpSource {
    /// A `[[dump]]` of the config file.
    Config,
    /// Created through `POST /api/v1/dumps`.
    Api,
}

/// A dump's file rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// Rotate once a file holds this many bytes (`None`: never).
    #[serde(default)]
    pub max_file_bytes: Option<u64>,
    /// Rotate once a file is this many seconds old (`None`: never).
    #[serde(default)]
    pub max_file_seconds: Option<u64>,
    /// Files kept, the current one included (1..=1000).
    #[serde(default = "default_max_files")]
    pub max_files: u32,
}

fn default_max_files() -> u32 {
    10
}

impl Default for Rotation {
    /// API dumps: 100 MB files, 10 of them (at most about 1 GB on disk).
    fn default() -> Self {
        Rotation {
            max_file_bytes: Some(100_000_000),
            max_file_seconds: None,
            max_files: 10,
        }
    }
}

/// A dump to define ([`ControlPlane::create_dump`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpRequest {
    /// Its name (see [`validate_dump_name`]).
    pub name: String,
    /// The expression.
    pub expression: String,
    /// `pcap` or `pcapng` (default `pcapng`).
    pub format: Option<String>,
    /// Bytes kept per packet (default 65535).
    pub snaplen: Option<u32>,
    /// Rotation (default [`Rotation::default`]).
    pub rotation: Option<Rotation>,
    /// Start at once (default true).
    pub start: Option<bool>,
    /// The file (config dumps only; API dumps are `dump_dir/NAME.FORMAT`).
    pub path: Option<PathBuf>,
}

/// Checks a dump's snaplen (1..=262144) and rotation (`max_files`
/// 1..=1000, the byte and second limits at least 1 when set), for dumps
/// from the API and from the config file alike.
pub fn validate_dump_settings(snaplen: u32, rotation: &Rotation) -> Result<(), ControlError> {
    if !(1..=ferrocap_dataplane::pcap::MAX_CAPLEN).contains(&snaplen) {
        return Err(ControlError::BadRequest(format!(
            "snaplen {snaplen} must be 1..={}",
            ferrocap_dataplane::pcap::MAX_CAPLEN
        )));
    }
    if !(1..=1000).contains(&rotation.max_files) {
        return Err(ControlError::BadRequest(format!(
            "rotation.max_files {} must be 1..=1000",
            rotation.max_files
        )));
    }
    if rotation.max_file_bytes == Some(0) || rotation.max_file_seconds == Some(0) {
        return Err(ControlError::BadRequest(
            "rotation.max_file_bytes and max_file_seconds must be at least 1".into(),
        ));
    }
    Ok(())
}

/// Checks a dump name: `^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$` and no `..`.
/// The name becomes a file name, so nothing else may pass.
pub fn validate_dump_name(name: &str) -> Result<(), ControlError> {
    let b = name.as_bytes();
    let ok = b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.len() <= 64
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
        && !name.contains("..");
    if ok {
        Ok(())
    } else {
        Err(ControlError::BadRequest(format!(
            "invalid dump name {name:?}: 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit, without \"..\""
        )))
    }
}

/// A named dump.
#[derive(Debug, Clone)]
pub(crate) struct Dump {
    pub(crate) source: DumpSource,
    pub(crate) expression: String,
    pub(crate) spec: DumpSpec,
    pub(crate) running: bool,
    /// The counters of the last run, once stopped.
    pub(crate) last: Option<OutputSnapshot>,
}

#[derive(Debug, Default)]
struct Registry {
    /// The active packet-logging expression.
    packet_logging: Option<String>,
    dumps: BTreeMap<String, Dump>,
}

pub(crate) struct Shared {
    pub(crate) runtime: Runtime,
    pub(crate) logger: Option<Logger>,
    pub(crate) opts: ControlOptions,
    directory: Mutex<Directory>,
    registry: Mutex<Registry>,
    ports: Mutex<Vec<PortStat>>,
    ready: AtomicBool,
    started: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The control plane: a cheap handle (clone it) over the runtime and the
/// outputs it manages. See the crate docs.
#[derive(Clone)]
pub struct ControlPlane {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("runtime", &self.shared.runtime)
            .finish_non_exhaustive()
    }
}

fn runtime_error(e: RuntimeError) -> ControlError {
    match e {
        RuntimeError::DuplicateOutput(n) => {
            ControlError::Conflict(format!("an output named \"{n}\" is already active"))
        }
        RuntimeError::NoSuchOutput(n) => {
            ControlError::Conflict(format!("no output named \"{n}\" is active"))
        }
        other => ControlError::Internal(other.to_string()),
    }
}

fn warnings(c: &Compiled) -> Vec<Value> {
    c.warnings
        .iter()
        .map(|w| json!({"line": w.line, "char": w.char, "message": w.message}))
        .collect()
}

/// The JSON shape of a log level.
pub(crate) fn level_json(l: Level) -> Value {
    json!({"level": l.get(), "name": l.mnemonic().unwrap_or("info")})
}

impl ControlPlane {
    /// A control plane over `runtime`; expressions compile against
    /// `directory` (whose user table the API can replace). `logger` is the
    /// facility packet logging writes through and changes are logged to.
    pub fn new(
        runtime: Runtime,
        directory: Directory,
        logger: Option<Logger>,
        opts: ControlOptions,
    ) -> ControlPlane {
        ControlPlane {
            shared: Arc::new(Shared {
                runtime,
                logger,
                opts,
                directory: Mutex::new(directory),
                registry: Mutex::new(Registry::default()),
                ports: Mutex::new(Vec::new()),
                ready: AtomicBool::new(false),
                started: Instant::now(),
            }),
        }
    }

    /// The HTTP router over this plane (what [`crate::Server`] serves),
    /// for embedding or for in-process tests.
    pub fn router(&self) -> axum::Router {
        crate::api::router(self.clone())
    }

    /// The Prometheus exposition now (what `GET /metrics` returns).
    pub fn metrics_text(&self) -> String {
        crate::metrics::render(self)
    }

    /// The runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.shared.runtime
    }

    /// Publishes the ports' counters (the main loop calls this).
    pub fn set_ports(&self, ports: Vec<PortStat>) {
        *lock(&self.shared.ports) = ports;
    }

    /// The ports' counters as last published.
    pub fn ports(&self) -> Vec<PortStat> {
        lock(&self.shared.ports).clone()
    }

    /// Marks the workers as running (`/readyz` answers 200) or not.
    pub fn set_ready(&self, ready: bool) {
        self.shared.ready.store(ready, Ordering::Release);
    }

    /// Whether the workers run and the runtime is not stopping.
    pub fn is_ready(&self) -> bool {
        self.shared.ready.load(Ordering::Acquire) && !self.shared.runtime.is_stopping()
    }

    /// Seconds since the control plane was created.
    pub fn uptime_seconds(&self) -> f64 {
        self.shared.started.elapsed().as_secs_f64()
    }

    fn log(&self, entry: &'static catalog::CatalogEntry, args: &[&dyn std::fmt::Display]) {
        if let Some(l) = &self.shared.logger {
            l.log(0, entry, args);
        }
    }

    /// Logs a change made through the API (`CTLH-130`).
    pub(crate) fn log_change(&self, what: &str, detail: &str) {
        self.log(catalog::CTLH_CHANGED, &[&what, &detail]);
    }

    /// Logs a refused request (`CTLH-120`).
    pub(crate) fn log_refused(&self, method: &str, path: &str, peer: &str, why: &str) {
        self.log(catalog::CTLH_REFUSED, &[&method, &path, &peer, &why]);
    }

    fn compile(&self, text: &str) -> Result<Compiled, ControlError> {
        let dir = lock(&self.shared.directory);
        Ok(expr::compile(text, &dir)?)
    }

    /// `POST /api/v1/expressions/check`: normalized form, plan, warnings.
    pub fn check_expression(&self, text: &str) -> Result<Value, ControlError> {
        let c = self.compile(text)?;
        Ok(json!({
            "normalized": c.normalized,
            "plan": c.matcher.to_string(),
            "warnings": warnings(&c),
        }))
    }

    /// The active packet-logging expression.
    pub fn packet_logging(&self) -> Option<String> {
        lock(&self.shared.registry).packet_logging.clone()
    }

    /// Sets (or replaces, with a hot swap) the packet-logging expression.
    /// Needs a logger. Returns `{"expression","normalized","warnings"}`.
    pub fn set_packet_logging(&self, text: &str) -> Result<Value, ControlError> {
        let mut reg = lock(&self.shared.registry);
        let compiled = match self.compile(text) {
            Ok(c) => c,
            Err(e) => {
                if let ControlError::Expression {
                    line,
                    char,
                    message,
                } = &e
                {
                    self.log(catalog::EXPR_ERROR, &[&PACKET_LOGGING, line, char, message]);
                }
                return Err(e);
            }
        };
        let logger = self.shared.logger.clone().ok_or_else(|| {
            ControlError::Conflict("packet logging needs the logging facility, which is off".into())
        })?;
        let rt = &self.shared.runtime;
        if reg.packet_logging.is_some() {
            rt.replace_expression(PACKET_LOGGING, text, compiled.matcher.clone())
                .map_err(runtime_error)?;
        } else {
            rt.add_output(OutputSpec {
                name: PACKET_LOGGING.into(),
                expression: text.to_owned(),
                matcher: compiled.matcher.clone(),
                kind: OutputKind::PacketLog { logger, track: 0 },
            })
            .map_err(runtime_error)?;
        }
        reg.packet_logging = Some(text.to_owned());
        Ok(json!({
            "expression": text,
            "normalized": compiled.normalized,
            "warnings": warnings(&compiled),
        }))
    }

    /// Cancels packet logging (a no-op when it is off).
    pub fn clear_packet_logging(&self) -> Result<(), ControlError> {
        let mut reg = lock(&self.shared.registry);
        if reg.packet_logging.is_some() {
            self.shared
                .runtime
                .remove_output(PACKET_LOGGING)
                .map_err(runtime_error)?;
            reg.packet_logging = None;
        }
        Ok(())
    }

    /// Defines a dump and, unless `start` is false, starts it. Config dumps
    /// keep their `path`; API dumps go to `dump_dir/NAME.FORMAT`.
    pub fn create_dump(&self, req: DumpRequest, source: DumpSource) -> Result<Value, ControlError> {
        validate_dump_name(&req.name)?;
        if req.name == PACKET_LOGGING {
            return Err(ControlError::Conflict(format!(
                "\"{PACKET_LOGGING}\" is reserved for packet logging"
            )));
        }
        let format: DumpFormat = req.format.as_deref().unwrap_or("pcapng").parse().map_err(
            |e: ferrocap_dataplane::pcap::UnknownDumpFormat| {
                ControlError::BadRequest(e.to_string())
            },
        )?;
        let snaplen = req.snaplen.unwrap_or(65535);
        let rotation = req.rotation.unwrap_or_default();
        validate_dump_settings(snaplen, &rotation)?;
        // Compile first: a bad expression defines nothing.
        self.compile(&req.expression)?;
        let path = match (source, req.path) {
            (DumpSource::Config, Some(p)) => p,
            (DumpSource::Config, None) => PathBuf::from(format!("{}.{format}", req.name)),
            (DumpSource::Api, _) => self
                .shared
                .opts
                .dump_dir
                .join(format!("{}.{format}", req.name)),
        };
        {
            let mut reg = lock(&self.shared.registry);
            if reg.dumps.contains_key(&req.name) {
                return Err(ControlError::Conflict(format!(
                    "a dump named \"{}\" exists",
                    req.name
                )));
            }
            if reg.dumps.len() >= MAX_DUMPS {
                return Err(ControlError::Conflict(format!(
                    "{MAX_DUMPS} dumps are defined already: delete one first"
                )));
            }
            if let Some((other, _)) = reg.dumps.iter().find(|(_, d)| d.spec.path == path) {
                return Err(ControlError::Conflict(format!(
                    "dump \"{other}\" already writes {}",
                    path.display()
                )));
            }
            reg.dumps.insert(
                req.name.clone(),
                Dump {
                    source,
                    expression: req.expression.clone(),
                    spec: DumpSpec {
                        path,
                        format,
                        snaplen,
                        max_file_bytes: rotation.max_file_bytes,
                        max_file_seconds: rotation.max_file_seconds,
                        max_files: rotation.max_files,
                        max_packets: None,
                    },
                    running: false,
                    last: None,
                },
            );
        }
        if req.start.unwrap_or(true) {
            if let Err(e) = self.start_dump(&req.name) {
                lock(&self.shared.registry).dumps.remove(&req.name);
                return Err(e);
            }
        }
        self.dump(&req.name)
    }

    /// Starts a stopped dump: its old files are removed and it captures
    /// into a fresh file with the expression compiled against the current
    /// directory.
    pub fn start_dump(&self, name: &str) -> Result<Value, ControlError> {
        validate_dump_name(name)?;
        // A dump stopped by a write error still holds its place in the
        // runtime: let it go, so that a start is a fresh capture.
        let failed = self
            .shared
            .runtime
            .snapshot()
            .outputs
            .iter()
            .any(|o| o.name == name && o.kind == "dump" && o.failed);
        if failed
            && lock(&self.shared.registry)
                .dumps
                .get(name)
                .is_some_and(|d| d.running)
        {
            self.stop_dump(name)?;
        }
        {
            let mut reg = lock(&self.shared.registry);
            let dump = reg.dumps.get_mut(name).ok_or_else(|| not_found(name))?;
            if dump.running {
                return Err(ControlError::Conflict(format!(
                    "dump \"{name}\" is already running"
                )));
            }
            let compiled = self.compile(&dump.expression)?;
            if let Some(parent) = dump
                .spec
                .path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent).map_err(|e| {
                    ControlError::Internal(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
            for f in dump.spec.files() {
                let _ = std::fs::remove_file(f);
            }
            self.shared
                .runtime
                .add_output(OutputSpec {
                    name: name.to_owned(),
                    expression: dump.expression.clone(),
                    matcher: compiled.matcher,
                    kind: OutputKind::Dump(dump.spec.clone()),
                })
                .map_err(runtime_error)?;
            dump.running = true;
            dump.last = None;
        }
        self.dump(name)
    }

    /// Stops a running dump (its writer finishes the file, which stays for
    /// download).
    pub fn stop_dump(&self, name: &str) -> Result<Value, ControlError> {
        validate_dump_name(name)?;
        {
            let mut reg = lock(&self.shared.registry);
            let dump = reg.dumps.get_mut(name).ok_or_else(|| not_found(name))?;
            if !dump.running {
                return Err(ControlError::Conflict(format!(
                    "dump \"{name}\" is not running"
                )));
            }
            let snap = self
                .shared
                .runtime
                .remove_output(name)
                .map_err(runtime_error)?;
            dump.running = false;
            dump.last = Some(snap);
        }
        self.dump(name)
    }

    /// Deletes a dump: stops it if running and removes its files.
    pub fn delete_dump(&self, name: &str) -> Result<Value, ControlError> {
        validate_dump_name(name)?;
        {
            let mut reg = lock(&self.shared.registry);
            let dump = reg.dumps.get(name).ok_or_else(|| not_found(name))?;
            if dump.running {
                self.shared
                    .runtime
                    .remove_output(name)
                    .map_err(runtime_error)?;
            }
            for f in dump.spec.files() {
                let _ = std::fs::remove_file(f);
            }
            reg.dumps.remove(name);
        }
        Ok(json!({"deleted": name}))
    }

    /// A copy of dump `name`'s definition.
    pub(crate) fn dump_def(&self, name: &str) -> Result<Dump, ControlError> {
        validate_dump_name(name)?;
        lock(&self.shared.registry)
            .dumps
            .get(name)
            .cloned()
            .ok_or_else(|| not_found(name))
    }

    /// The JSON of dump `name`.
    pub fn dump(&self, name: &str) -> Result<Value, ControlError> {
        let d = self.dump_def(name)?;
        let snap = self.shared.runtime.snapshot();
        Ok(dump_json(name, &d, &snap))
    }

    /// `{"dumps":[…]}`.
    pub fn dumps(&self) -> Value {
        let defs: Vec<(String, Dump)> = lock(&self.shared.registry)
            .dumps
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let snap = self.shared.runtime.snapshot();
        let list: Vec<Value> = defs.iter().map(|(n, d)| dump_json(n, d, &snap)).collect();
        json!({ "dumps": list })
    }

    /// Bytes on disk of each dump (all its files), for the metrics.
    pub(crate) fn dump_file_bytes(&self) -> Vec<(String, u64)> {
        let defs: Vec<(String, DumpSpec)> = lock(&self.shared.registry)
            .dumps
            .iter()
            .map(|(k, v)| (k.clone(), v.spec.clone()))
            .collect();
        defs.into_iter()
            .map(|(n, spec)| (n, files(&spec).iter().map(|f| f.1).sum()))
            .collect()
    }

    /// Replaces the user table and recompiles every active expression
    /// against it (hot swap). Nothing changes when the table or any
    /// recompilation fails. Returns `(users, recompiled)`.
    pub fn replace_users(
        &self,
        users: BTreeMap<String, Vec<String>>,
    ) -> Result<(usize, usize), ControlError> {
        let reg = lock(&self.shared.registry);
        let mut dir = lock(&self.shared.directory);
        let mut next = dir.clone();
        let count = users.len();
        next.replace_users(users)
            .map_err(|e| ControlError::BadRequest(e.to_string()))?;
        let mut active: Vec<(String, String)> = Vec::new();
        if let Some(e) = &reg.packet_logging {
            active.push((PACKET_LOGGING.to_owned(), e.clone()));
        }
        for (n, d) in reg.dumps.iter().filter(|(_, d)| d.running) {
            active.push((n.clone(), d.expression.clone()));
        }
        let mut compiled = Vec::new();
        for (name, text) in &active {
            let c = expr::compile(text, &next).map_err(|e| {
                ControlError::BadRequest(format!(
                    "the new users break the expression of \"{name}\": Line {}, char {}: {}",
                    e.line, e.char, e.message
                ))
            })?;
            compiled.push(c.matcher);
        }
        *dir = next;
        drop(dir);
        let mut n = 0;
        for ((name, text), m) in active.iter().zip(compiled) {
            self.shared
                .runtime
                .replace_expression(name, text, m)
                .map_err(runtime_error)?;
            n += 1;
        }
        drop(reg);
        Ok((count, n))
    }

    /// The log level (`None` without a logger).
    pub fn log_level(&self) -> Option<Level> {
        self.shared.logger.as_ref().map(Logger::level)
    }

    /// Sets the log level; logs `SLOG-110`.
    pub fn set_log_level(&self, level: Level) -> Result<Level, ControlError> {
        let l = self
            .shared
            .logger
            .as_ref()
            .ok_or_else(|| ControlError::Conflict("the logging facility is off".into()))?;
        l.set_level(level);
        l.log(0, catalog::SLOG_LEVEL, &[&level.get()]);
        Ok(level)
    }

    /// The last `n` packet-log records (`PFLG-888`) of the stats log.
    pub fn tail(&self, n: usize) -> Result<Vec<String>, ControlError> {
        let path = self.shared.opts.stats_log.as_ref().ok_or_else(|| {
            ControlError::Conflict("the stats log is not a file (logging goes to syslog)".into())
        })?;
        if let Some(l) = &self.shared.logger {
            l.flush();
        }
        tail_records(path, n, " PFLG-888-").map_err(|e| {
            ControlError::Conflict(format!("cannot read the stats log {}: {e}", path.display()))
        })
    }

    /// The status document (`GET /api/v1/status`).
    pub fn status(&self) -> Value {
        let snap = self.shared.runtime.snapshot();
        let level = self.log_level().unwrap_or_default();
        let workers: Vec<Value> = snap
            .workers
            .iter()
            .map(|w| {
                json!({
                    "worker": w.worker,
                    "rx_packets": w.rx,
                    "rx_bytes": w.rx_bytes,
                    "matched": w.matched,
                    "unmatched": w.unmatched,
                    "dropped": worker_dropped(&snap, w.worker),
                })
            })
            .collect();
        let outputs: Vec<Value> = snap.outputs.iter().map(output_json).collect();
        json!({
            "version": self.shared.opts.version,
            "uptime_seconds": self.uptime_seconds(),
            "log_level": level_json(level),
            "generation": snap.generation,
            "ports": self.ports(),
            "workers": workers,
            "totals": {
                "rx_packets": snap.rx(),
                "matched": snap.matched(),
                "unmatched": snap.workers.iter().map(|w| w.unmatched).sum::<u64>(),
                "dropped": snap.all_outputs().map(OutputSnapshot::dropped).sum::<u64>(),
                "written": snap.all_outputs().map(|o| o.written).sum::<u64>(),
            },
            "outputs": outputs,
        })
    }
}

fn not_found(name: &str) -> ControlError {
    ControlError::NotFound(format!("no dump named \"{name}\""))
}

/// Ring drops of worker `w` over every output, active and removed.
pub(crate) fn worker_dropped(snap: &Snapshot, w: usize) -> u64 {
    snap.all_outputs()
        .filter_map(|o| o.per_worker.get(w))
        .map(|c| c[2])
        .sum()
}

fn drops_json(o: &OutputSnapshot) -> Value {
    json!({
        "queue_full": o.dropped_queue_full,
        "write_error": o.dropped_write_error,
        "limit": o.dropped_limit,
    })
}

fn output_json(o: &OutputSnapshot) -> Value {
    json!({
        "name": o.name,
        "kind": o.kind,
        "expression": o.expression,
        "matched": o.matched,
        "written": o.written,
        "bytes": o.bytes,
        "dropped": drops_json(o),
        "files_rotated": o.files_rotated,
        "write_errors": o.write_errors,
        "failed": o.failed,
        "latency_ns": {
            "count": o.latency_ns.count,
            "p50": o.latency_ns.p50,
            "p99": o.latency_ns.p99,
            "p999": o.latency_ns.p999,
            "max": o.latency_ns.max,
        },
    })
}

/// The dump's files that exist, oldest first, with their sizes.
pub(crate) fn files(spec: &DumpSpec) -> Vec<(PathBuf, u64)> {
    spec.files()
        .into_iter()
        .filter_map(|p| std::fs::metadata(&p).ok().map(|m| (p, m.len())))
        .collect()
}

fn dump_json(name: &str, d: &Dump, snap: &Snapshot) -> Value {
    let live = d
        .running
        .then(|| snap.outputs.iter().find(|o| o.name == name))
        .flatten();
    let counters = live.or(d.last.as_ref());
    let state = match (d.running, live.is_some_and(|o| o.failed)) {
        (true, true) => "failed",
        (true, false) => "running",
        (false, _) if d.last.as_ref().is_some_and(|o| o.failed) => "failed",
        (false, _) => "stopped",
    };
    let files = files(&d.spec);
    let file_bytes: u64 = files.iter().map(|f| f.1).sum();
    let files: Vec<Value> = files
        .iter()
        .map(|(p, b)| {
            json!({
                "name": p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                "bytes": b,
            })
        })
        .collect();
    json!({
        "name": name,
        "expression": d.expression,
        "format": d.spec.format.as_str(),
        "state": state,
        "source": d.source,
        "path": d.spec.path.display().to_string(),
        "files": files,
        "file_bytes": file_bytes,
        "matched": counters.map_or(0, |o| o.matched),
        "written": counters.map_or(0, |o| o.written),
        "dropped": counters.map_or_else(|| drops_json(&OutputSnapshot::default()), drops_json),
        "rotation": {
            "max_file_bytes": d.spec.max_file_bytes,
            "max_file_seconds": d.spec.max_file_seconds,
            "max_files": d.spec.max_files,
        },
    })
}

/// The last `n` lines of `path` that contain `marker`, reading at most the
/// last 8 MiB (bounded memory whatever the file's size).
fn tail_records(path: &Path, n: usize, marker: &str) -> std::io::Result<Vec<String>> {
    use std::io::{Read, Seek, SeekFrom};
    const WINDOW: u64 = 8 << 20;
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(WINDOW);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.take(WINDOW).read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<&str> = text.lines().filter(|l| l.contains(marker)).collect();
    // A window that starts mid-file starts mid-line: drop that part line.
    if start > 0 && !lines.is_empty() && !text.starts_with('\n') {
        let first_line = text.lines().next().unwrap_or("");
        if lines.first() == Some(&first_line) {
            lines.remove(0);
        }
    }
    let skip = lines.len().saturating_sub(n);
    Ok(lines.into_iter().skip(skip).map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_names() {
        for ok in ["a", "web", "Web-1.x_2", "0", &"a".repeat(64)] {
            assert_eq!(validate_dump_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "..",
            "../x",
            "a/b",
            "a..b",
            ".hidden",
            "-x",
            "_x",
            "a b",
            "a\\b",
            "ä",
            "x\0",
            &"a".repeat(65),
        ] {
            assert!(
                matches!(validate_dump_name(bad), Err(ControlError::BadRequest(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn tail_keeps_the_last_matching_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("stats");
        let mut text = String::new();
        for i in 0..10 {
            text.push_str(&format!("x ferrocap[1.0]: PFLG-888-I PACKET N={i}\n"));
            text.push_str("x ferrocap[1.0]: MONI-888-I COUNTERS\n");
        }
        std::fs::write(&p, text).expect("write");
        let got = tail_records(&p, 3, " PFLG-888-").expect("tail");
        assert_eq!(got.len(), 3);
        assert!(got[0].ends_with("N=7"), "{got:?}");
        assert!(got[2].ends_with("N=9"), "{got:?}");
        assert_eq!(tail_records(&p, 100, " PFLG-888-").expect("tail").len(), 10);
        assert!(tail_records(&dir.path().join("missing"), 1, "x").is_err());
    }
}
