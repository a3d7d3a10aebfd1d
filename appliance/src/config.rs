//! The appliance's TOML configuration file.
//!
//! Promises:
//! - every table rejects unknown keys (`deny_unknown_fields`), so a typo is an
//!   error, never a silently ignored setting;
//! - every error — TOML syntax, a wrong type, or a semantic problem found by
//!   [`Config::validate`] — is reported in Kernun's configuration-error form,
//!   `Line N, char M: message`, pointing into the file;
//! - a config that passes [`Config::load`] yields a consistent
//!   [`Directory`] for the expression compiler and compiled expressions for
//!   packet logging and every dump.
//!
//! Every field's doc comment gives its default.
//!
//! The live-capture sections (`[eal]`, `[[port]]`, dump files and rotation,
//! `[log]`) are read by `ferrocap run`; the offline commands read only the
//! directory and the expressions.
// Without DPDK nothing reads the live-capture sections.
#![cfg_attr(not(feature = "dpdk"), allow(dead_code))]

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use ferrocap_dataplane::expr::{self, Directory, InterfaceDef, InterfaceKind, RouteDef};
use ferrocap_dataplane::log::config::{DEBUG_FILE, STATS_FILE};
use ferrocap_dataplane::log::OutputKind;
use ferrocap_dataplane::pcap::DumpFormat;
use serde::Deserialize;
use toml::Spanned;

/// A whole configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// DPDK EAL settings. Default: none (no live capture).
    #[serde(default)]
    pub eal: EalConfig,
    /// DPDK ports to receive from. Default: none.
    #[serde(default, rename = "port")]
    pub ports: Vec<PortConfig>,
    /// Named interfaces (Kerio's `if`/`iif`/`oif` values). Default: none.
    #[serde(default, rename = "interface")]
    pub interfaces: Vec<InterfaceConfig>,
    /// Routes that give a packet its outgoing interface (`oif`). Default: none,
    /// so `oif` conditions are false.
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteConfig>,
    /// IP groups for `list:"NAME"`: name → hosts, subnets, ranges or
    /// `list:"OTHER"`. Default: none.
    #[serde(default)]
    pub ip_groups: BTreeMap<String, Spanned<Vec<String>>>,
    /// Users for `user:"NAME"`: name → addresses they connect from. Default: none.
    #[serde(default)]
    pub users: BTreeMap<String, Spanned<Vec<String>>>,
    /// User groups for `user:"[GROUP]"`: name → user names. Default: none.
    #[serde(default)]
    pub user_groups: BTreeMap<String, Spanned<Vec<String>>>,
    /// Kerio packet logging. Default: off.
    #[serde(default)]
    pub packet_logging: PacketLoggingConfig,
    /// Named packet dumps. Default: none.
    #[serde(default, rename = "dump")]
    pub dumps: Vec<DumpConfig>,
    /// The Kernun logging facility (`[log]`). Default: syslog at level 5;
    /// `ferrocap run` without a `[log]` section logs to files under `./run`.
    #[serde(default)]
    pub log: Option<ferrocap_dataplane::log::LogConfig>,
    /// The control plane (`[control]`).
    #[serde(default)]
    pub control: ControlConfig,
    /// Ring sizes between the workers and the writers (`[runtime]`).
    #[serde(default)]
    pub runtime: RuntimeSection,
}

/// `[runtime]`: the rings between the workers and the writer threads.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuntimeSection {
    /// Slots per ring, one ring per worker and output; a full ring drops
    /// (counted as `queue_full`). Default: 4096.
    #[serde(default = "default_ring_slots")]
    pub ring_slots: Spanned<u32>,
    /// Bytes of a packet a slot holds (longer packets are cut, their length
    /// on the wire is kept). Default: 2048.
    #[serde(default = "default_slot_bytes")]
    pub slot_bytes: Spanned<u32>,
}

impl Default for RuntimeSection {
    fn default() -> Self {
        RuntimeSection {
            ring_slots: default_ring_slots(),
            slot_bytes: default_slot_bytes(),
        }
    }
}

fn default_ring_slots() -> Spanned<u32> {
    Spanned::new(0..0, 4096)
}
fn default_slot_bytes() -> Spanned<u32> {
    Spanned::new(0..0, 2048)
}

/// `[eal]`: how DPDK's environment abstraction layer is started.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EalConfig {
    /// Raw EAL arguments, e.g. `["-l", "0-1", "--no-huge", "-m", "256"]`.
    /// Default: empty.
    #[serde(default)]
    pub args: Vec<String>,
}

/// `[[port]]`: one DPDK port.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PortConfig {
    /// The port's name as interfaces refer to it, e.g. `net_pcap0` or
    /// `0000:03:00.0`. Required.
    pub name: Spanned<String>,
    /// A vdev string to create the port (`net_pcap0,rx_pcap=FILE`); absent for
    /// a PCI device bound to vfio-pci. Default: none.
    #[serde(default)]
    pub vdev: Option<String>,
    /// RX queues, one worker each. Default: 1.
    #[serde(default = "default_rx_queues")]
    pub rx_queues: u16,
    /// RX descriptors per queue. Default: 1024.
    #[serde(default = "default_rx_descriptors")]
    pub rx_descriptors: u16,
    /// mbufs in this port's pool. Default: 8191.
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
}

fn default_rx_queues() -> u16 {
    1
}
fn default_rx_descriptors() -> u16 {
    1024
}
fn default_pool_size() -> u32 {
    8191
}

/// `[[interface]]`: a name in Kerio's vocabulary for what a port sees.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InterfaceConfig {
    /// The name expressions use, e.g. `Internet`. Required.
    pub name: Spanned<String>,
    /// The DPDK port name (see `[[port]] name`), or for offline captures the
    /// pcapng interface name. Default: the interface name.
    #[serde(default)]
    pub port: Option<String>,
    /// Only frames with this outer VLAN ID belong to the interface. Default: any.
    #[serde(default)]
    pub vlan: Option<u16>,
    /// `ethernet`, `vpn_tunnel` or `vpn_client`. Default: `ethernet`.
    #[serde(default)]
    pub kind: KindConfig,
    /// `in`, `out`, `unknown`, or `by_mac` (with `mac`). Default: `unknown`.
    #[serde(default)]
    pub direction: DirectionRuleConfig,
    /// The firewall's MAC for `direction = "by_mac"`: frames to it are `in`,
    /// frames from it are `out`. Default: none.
    #[serde(default)]
    pub mac: Option<Spanned<String>>,
}

/// The kind of an interface.
#[derive(Debug, Default, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum KindConfig {
    /// A plain link. The default.
    #[default]
    Ethernet,
    /// A site-to-site VPN tunnel (`vpn`, `vpn:"name"`).
    VpnTunnel,
    /// VPN clients (`vpnclient`, `vpn`, `vpn:"name"`).
    VpnClient,
}

/// How an interface's packets get their direction.
#[derive(Debug, Default, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DirectionRuleConfig {
    /// Every packet is incoming (a TAP leg).
    In,
    /// Every packet is outgoing (a TAP leg).
    Out,
    /// Frames addressed to `mac` are `in`, frames sent from it are `out`.
    ByMac,
    /// `direc` conditions are false. The default.
    #[default]
    Unknown,
}

/// `[[route]]`: destination prefix → outgoing interface.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RouteConfig {
    /// `10.0.0.0/8`, `0.0.0.0/0`, `2001:db8::/32`. Required.
    pub prefix: Spanned<String>,
    /// An `[[interface]]` name. Required.
    pub interface: Spanned<String>,
}

/// `[packet_logging]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PacketLoggingConfig {
    /// The packet-logging expression. Default: none (packet logging off).
    #[serde(default)]
    pub expression: Option<Spanned<String>>,
}

/// `[[dump]]`: a named packet dump.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DumpConfig {
    /// Letters, digits, `-`, `_`, `.`; at most 64. Required.
    pub name: Spanned<String>,
    /// The expression selecting the packets. Required.
    pub expression: Spanned<String>,
    /// Output file. Default: `NAME.FORMAT` in the current directory.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// `pcap` or `pcapng`. Default: `pcapng`.
    #[serde(default = "default_format")]
    pub format: Spanned<String>,
    /// Bytes kept per packet. Default: 65535.
    #[serde(default = "default_snaplen")]
    pub snaplen: u32,
    /// Start when the appliance starts. Default: true.
    #[serde(default = "default_true")]
    pub start: bool,
    /// Rotate after this many bytes. Default: never.
    #[serde(default)]
    pub max_file_bytes: Option<u64>,
    /// Rotate after this many seconds. Default: never.
    #[serde(default)]
    pub max_file_seconds: Option<u64>,
    /// Keep this many files (a ring, the current one included), 1..=1000.
    /// Default: 10.
    #[serde(default = "default_max_files")]
    pub max_files: u32,
}

fn default_format() -> Spanned<String> {
    Spanned::new(0..0, "pcapng".to_owned())
}
fn default_snaplen() -> u32 {
    65535
}
fn default_true() -> bool {
    true
}
fn default_max_files() -> u32 {
    10
}

/// `[control]`: the HTTP control plane.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ControlConfig {
    /// Serve the control plane (API, metrics, web page) while `ferrocap
    /// run` runs. Default: true.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Directory of the dumps created through the API (`NAME.FORMAT`).
    /// Default: the directory of the first `[[dump]]` with a `path`, else
    /// `dumps/` beside the config file.
    #[serde(default)]
    pub dump_dir: Option<PathBuf>,
    /// Listen address. Default: `127.0.0.1:9700`.
    #[serde(default = "default_bind")]
    pub bind: Spanned<String>,
    /// Bearer token for mutating requests; required when `bind` is not
    /// loopback. Default: none.
    #[serde(default)]
    pub token: Option<String>,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            enabled: true,
            dump_dir: None,
            bind: default_bind(),
            token: None,
        }
    }
}

fn default_bind() -> Spanned<String> {
    Spanned::new(
        0..0,
        format!("127.0.0.1:{}", ferrocap_control::DEFAULT_PORT),
    )
}

/// A configuration error, positioned in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigError {
    /// The file the error is in.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based character within the line.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            // Not about a place in the file (it could not be read).
            return write!(f, "{}: {}", self.path.display(), self.message);
        }
        write!(
            f,
            "{}: Line {}, char {}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

impl std::error::Error for ConfigError {}

/// A loaded, validated configuration: the parsed file plus what it builds.
#[derive(Debug)]
pub(crate) struct Loaded {
    /// The file as parsed.
    pub config: Config,
    /// Interfaces, routes, groups and users for the expression compiler.
    pub directory: Directory,
}

impl Config {
    /// Reads, parses and validates `path`.
    pub(crate) fn load(path: &Path) -> Result<Loaded, ConfigError> {
        let bytes = std::fs::read(path).map_err(|e| ConfigError {
            path: path.to_owned(),
            line: 0,
            column: 0,
            message: format!("cannot read the config file: {e}"),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let good = e.utf8_error().valid_up_to();
            let prefix = String::from_utf8_lossy(&e.as_bytes()[..good]).into_owned();
            let (line, column) = line_char(&prefix, good);
            ConfigError {
                path: path.to_owned(),
                line,
                column,
                message: "the config file is not UTF-8 text (TOML must be)".into(),
            }
        })?;
        Self::load_str(path, &text)
    }

    /// Parses and validates `text`; `path` only names the file in errors.
    pub(crate) fn load_str(path: &Path, text: &str) -> Result<Loaded, ConfigError> {
        let at = |span: Option<Range<usize>>, message: String| {
            let (line, column) = line_char(text, span.map_or(0, |s| s.start));
            ConfigError {
                path: path.to_owned(),
                line,
                column,
                message,
            }
        };
        let config: Config = toml::from_str(text).map_err(|e| {
            // toml's message repeats the position and quotes the source; keep
            // only its explanation.
            let message = e.message().trim().to_owned();
            at(e.span(), message)
        })?;
        let directory = config
            .validate()
            .map_err(|(span, message)| at(Some(span), message))?;
        // Compile every expression now so a bad one is a config error that
        // points into the file.
        let mut exprs: Vec<&Spanned<String>> = config.dumps.iter().map(|d| &d.expression).collect();
        exprs.extend(config.packet_logging.expression.as_ref());
        for e in exprs {
            if let Err(err) = expr::compile(e.get_ref(), &directory) {
                return Err(expr_error_in_file(path, text, e, &err));
            }
        }
        Ok(Loaded { config, directory })
    }

    /// Checks what serde cannot: names, references, ports and addresses.
    /// Returns the directory the expressions compile against, or the span
    /// of the first problem with its message.
    pub(crate) fn validate(&self) -> Result<Directory, (Range<usize>, String)> {
        let mut seen = BTreeMap::new();
        for p in &self.ports {
            if p.name.get_ref().is_empty() {
                return Err((p.name.span(), "a port needs a non-empty name".into()));
            }
            if seen.insert(p.name.get_ref().clone(), ()).is_some() {
                return Err((
                    p.name.span(),
                    format!("port \"{}\" is defined twice", p.name.get_ref()),
                ));
            }
            if p.pool_size == 0 {
                return Err((
                    p.name.span(),
                    format!(
                        "port \"{}\": pool_size must be at least 1",
                        p.name.get_ref()
                    ),
                ));
            }
            if p.rx_queues == 0 {
                return Err((
                    p.name.span(),
                    format!(
                        "port \"{}\": rx_queues must be at least 1",
                        p.name.get_ref()
                    ),
                ));
            }
        }
        let mut interfaces = Vec::new();
        let mut names = BTreeMap::new();
        for i in &self.interfaces {
            let name = i.name.get_ref();
            if name.is_empty() {
                return Err((i.name.span(), "an interface needs a non-empty name".into()));
            }
            if names.insert(name.clone(), ()).is_some() {
                return Err((
                    i.name.span(),
                    format!("interface \"{name}\" is defined twice"),
                ));
            }
            if let Some(v) = i.vlan {
                if v == 0 || v > 4094 {
                    return Err((
                        i.name.span(),
                        format!("interface \"{name}\": vlan {v} is outside 1..4094"),
                    ));
                }
            }
            match (i.direction, &i.mac) {
                (DirectionRuleConfig::ByMac, None) => {
                    return Err((
                        i.name.span(),
                        format!("interface \"{name}\": direction = \"by_mac\" needs mac = \"aa:bb:cc:dd:ee:ff\""),
                    ))
                }
                (DirectionRuleConfig::ByMac, Some(mac)) => {
                    parse_mac(mac.get_ref()).map_err(|m| (mac.span(), m))?;
                }
                (_, Some(mac)) => {
                    return Err((mac.span(), format!("interface \"{name}\": mac is only used with direction = \"by_mac\"")))
                }
                (_, None) => {}
            }
            if !self.ports.is_empty() {
                let port = i.port.as_deref().unwrap_or(name);
                if !self.ports.iter().any(|p| p.name.get_ref() == port) {
                    return Err((
                        i.name.span(),
                        format!("interface \"{name}\": no [[port]] is named \"{port}\""),
                    ));
                }
            }
            interfaces.push(InterfaceDef {
                name: name.clone(),
                kind: match i.kind {
                    KindConfig::Ethernet => InterfaceKind::Ethernet,
                    KindConfig::VpnTunnel => InterfaceKind::VpnTunnel,
                    KindConfig::VpnClient => InterfaceKind::VpnClient,
                },
            });
        }
        let routes = self
            .routes
            .iter()
            .map(|r| RouteDef {
                prefix: r.prefix.get_ref().clone(),
                interface: r.interface.get_ref().clone(),
            })
            .collect();
        let unspan = |m: &BTreeMap<String, Spanned<Vec<String>>>| -> BTreeMap<String, Vec<String>> {
            m.iter()
                .map(|(k, v)| (k.clone(), v.get_ref().clone()))
                .collect()
        };
        let directory = Directory::new(
            interfaces,
            routes,
            unspan(&self.ip_groups),
            unspan(&self.users),
            unspan(&self.user_groups),
        )
        .map_err(|e| (self.directory_error_span(&e.to_string()), e.to_string()))?;

        let mut dump_names = BTreeMap::new();
        for d in &self.dumps {
            validate_dump_name(d.name.get_ref()).map_err(|m| (d.name.span(), m))?;
            if dump_names.insert(d.name.get_ref().clone(), ()).is_some() {
                return Err((
                    d.name.span(),
                    format!("dump \"{}\" is defined twice", d.name.get_ref()),
                ));
            }
            d.format
                .get_ref()
                .parse::<DumpFormat>()
                .map_err(|e| (d.format.span(), e.to_string()))?;
            // The same checks as for a dump created through the API.
            let rotation = ferrocap_control::Rotation {
                max_file_bytes: d.max_file_bytes,
                max_file_seconds: d.max_file_seconds,
                max_files: d.max_files,
            };
            ferrocap_control::validate_dump_settings(d.snaplen, &rotation)
                .map_err(|e| (d.name.span(), format!("dump \"{}\": {e}", d.name.get_ref())))?;
        }
        // Two outputs writing one file would each corrupt the other.
        let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let mut files: Vec<(PathBuf, String)> = Vec::new();
        if let Some(log) = self.log.as_ref().filter(|l| l.output == OutputKind::File) {
            for f in [STATS_FILE, DEBUG_FILE] {
                files.push((absolute(&log.dir.join(f)), format!("the log file {f}")));
            }
        }
        for d in &self.dumps {
            let path = d.path.clone().unwrap_or_else(|| {
                PathBuf::from(format!("{}.{}", d.name.get_ref(), d.format.get_ref()))
            });
            let path = absolute(&path);
            if let Some((_, other)) = files.iter().find(|(p, _)| *p == path) {
                return Err((
                    d.name.span(),
                    format!(
                        "dump \"{}\" writes {}, as {other} does",
                        d.name.get_ref(),
                        path.display()
                    ),
                ));
            }
            files.push((path, format!("dump \"{}\"", d.name.get_ref())));
        }
        let rs = &self.runtime;
        if !(1..=1 << 20).contains(rs.ring_slots.get_ref()) {
            return Err((rs.ring_slots.span(), "ring_slots must be 1..1048576".into()));
        }
        if !(64..=65536).contains(rs.slot_bytes.get_ref()) {
            return Err((rs.slot_bytes.span(), "slot_bytes must be 64..65536".into()));
        }
        let bind = self.control.bind.get_ref();
        let addr: std::net::SocketAddr = bind.parse().map_err(|_| {
            (
                self.control.bind.span(),
                format!("control bind \"{bind}\" is not an address:port like 127.0.0.1:9700"),
            )
        })?;
        if self
            .control
            .token
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            return Err((
                self.control.bind.span(),
                "[control] token is empty: set a secret, or leave token out on a loopback bind"
                    .into(),
            ));
        }
        if !addr.ip().is_loopback() && self.control.token.is_none() {
            return Err((
                self.control.bind.span(),
                format!("control bind \"{bind}\" is not loopback, so [control] token must be set"),
            ));
        }
        Ok(directory)
    }

    /// Points a directory error at the group, user or route it names, falling
    /// back to the start of the file.
    fn directory_error_span(&self, message: &str) -> Range<usize> {
        // Names are quoted, except in a cycle (`a -> b -> a`), which is
        // pointed at where it starts.
        let named = |name: &str| {
            message.contains(&format!("\"{name}\"")) || message.contains(&format!(": {name} -> "))
        };
        self.ip_groups
            .iter()
            .chain(self.users.iter())
            .chain(self.user_groups.iter())
            .find(|(k, _)| named(k))
            .map(|(_, v)| v.span())
            .or_else(|| {
                self.routes
                    .iter()
                    .find(|r| named(r.prefix.get_ref()) || named(r.interface.get_ref()))
                    .map(|r| r.prefix.span())
            })
            .unwrap_or(0..0)
    }
}

/// Checks a dump name: it becomes a file name and a URL segment of the
/// control API, so `^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$` without `..`.
pub(crate) fn validate_dump_name(name: &str) -> Result<(), String> {
    ferrocap_control::validate_dump_name(name).map_err(|e| e.to_string())
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub(crate) fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let mut mac = [0u8; 6];
    let mut parts = s.split([':', '-']);
    for b in &mut mac {
        let part = parts
            .next()
            .ok_or_else(|| format!("\"{s}\" is not a MAC address like aa:bb:cc:dd:ee:ff"))?;
        *b = u8::from_str_radix(part, 16)
            .ok()
            .filter(|_| part.len() == 2)
            .ok_or_else(|| format!("\"{s}\" is not a MAC address like aa:bb:cc:dd:ee:ff"))?;
    }
    if parts.next().is_some() {
        return Err(format!(
            "\"{s}\" is not a MAC address like aa:bb:cc:dd:ee:ff"
        ));
    }
    Ok(mac)
}

/// 1-based line and character of byte `offset` in `text`.
pub(crate) fn line_char(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text
        .get(line_start..offset)
        .map_or(1, |s| s.chars().count() + 1);
    (line, column)
}

/// Re-anchors an expression error found inside a TOML string at its place in
/// the file. Exact for single-line basic or literal strings without escapes;
/// otherwise it points at the string's opening quote.
fn expr_error_in_file(
    path: &Path,
    text: &str,
    value: &Spanned<String>,
    err: &expr::ExprError,
) -> ConfigError {
    let span = value.span();
    let raw = text.get(span.clone()).unwrap_or("");
    let inner_start = span.start + 1;
    let exact = err.line == 1 && raw.len() == value.get_ref().len() + 2 && !raw.contains('\\');
    let offset = if exact {
        // Advance `err.char - 1` characters into the string body.
        let body = text.get(inner_start..).unwrap_or("");
        inner_start
            + body
                .chars()
                .take(err.char.saturating_sub(1))
                .map(char::len_utf8)
                .sum::<usize>()
    } else {
        span.start
    };
    let (line, column) = line_char(text, offset);
    ConfigError {
        path: path.to_owned(),
        line,
        column,
        message: format!("in expression \"{}\": {}", value.get_ref(), err.message),
    }
}

/// The check behind the fuzz target `config` (`appliance/fuzz`, which
/// includes this file) and the test that replays its seed corpus: any
/// bytes as a config file load without a panic, and an error names a
/// place inside the text (line at least 1 and at most one past the last,
/// char at least 1) in Kernun's `Line N, char M:` form.
#[cfg(any(test, fuzzing))]
pub(crate) fn fuzz_check(input: &[u8]) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "ferrocap-fuzz-config-{}-{}.toml",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written = std::fs::write(&path, input);
    let loaded = written.is_ok().then(|| Config::load(&path));
    let _ = std::fs::remove_file(&path);
    let Some(Err(e)) = loaded else {
        assert!(loaded.is_some(), "cannot write {}", path.display());
        return;
    };
    let lines = input.split(|&b| b == b'\n').count();
    assert!(
        (1..=lines + 1).contains(&e.line) && e.column >= 1,
        "{e} (the text has {lines} lines)"
    );
    let place = format!("Line {}, char {}: ", e.line, e.column);
    assert!(e.to_string().contains(&place), "{e}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Loaded, ConfigError> {
        Config::load_str(Path::new("t.toml"), text)
    }

    #[test]
    fn line_char_counts_characters() {
        assert_eq!(line_char("abc", 0), (1, 1));
        assert_eq!(line_char("abc\ndef", 5), (2, 2));
        assert_eq!(line_char("žluť\nx", 6), (1, 5));
    }

    #[test]
    fn empty_config_is_valid() {
        let l = load("").unwrap();
        assert!(l.config.dumps.is_empty());
    }

    #[test]
    fn unknown_key_is_positioned() {
        let e = load("[packet_logging]\nexpresion = \"any\"\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 1), "{e}");
        assert!(e.message.contains("unknown field `expresion`"), "{e}");
        assert!(e.to_string().starts_with("t.toml: Line 2, char 1: "), "{e}");
    }

    #[test]
    fn bad_expression_points_into_the_string() {
        let e = load("[packet_logging]\nexpression = \"port = 70000\"\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        // `expression = "` is 14 characters; the value starts at char 15 and
        // the port number at char 22.
        assert_eq!(e.column, 22, "{e}");
    }

    #[test]
    fn by_mac_needs_a_mac() {
        let e = load("[[interface]]\nname = \"LAN\"\ndirection = \"by_mac\"\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("needs mac"), "{e}");
        load(
            "[[interface]]\nname = \"LAN\"\ndirection = \"by_mac\"\nmac = \"00:11:22:33:44:55\"\n",
        )
        .unwrap();
        let e = load(
            "[[interface]]\nname = \"LAN\"\ndirection = \"by_mac\"\nmac = \"00:11:22:33:44\"\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 4, "{e}");
    }

    #[test]
    fn runtime_section_is_checked() {
        let l = load("[runtime]\nring_slots = 64\n").unwrap();
        assert_eq!(*l.config.runtime.ring_slots.get_ref(), 64);
        assert_eq!(*l.config.runtime.slot_bytes.get_ref(), 2048);
        let e = load("[runtime]\nring_slots = 0\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 14), "{e}");
        let e = load("[runtime]\nslot_bytes = 10\n").unwrap_err();
        assert!(e.message.contains("slot_bytes"), "{e}");
    }

    #[test]
    fn unreadable_files_and_cycles_are_reported_where_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, b"[packet_logging]\nexpression = \"any \xff\"\n").unwrap();
        let e = Config::load(&path).unwrap_err();
        assert_eq!((e.line, e.column), (2, 19), "{e}");
        assert!(e.to_string().contains("not UTF-8"), "{e}");
        let e = Config::load(&dir.path().join("missing.toml")).unwrap_err();
        assert!(!e.to_string().contains("Line 0"), "{e}");
        let e = load("[ip_groups]\na = ['list:\"b\"']\nb = ['list:\"a\"']\n").unwrap_err();
        assert!(e.message.contains("cycle"), "{e}");
        assert_eq!(e.line, 2, "{e}");
    }

    #[test]
    fn values_run_would_reject_are_config_errors() {
        let dump = |extra: &str| {
            format!(
                "[[dump]]\nname = \"d\"\nexpression = \"any\"\npath = \"/tmp/d.pcapng\"\n{extra}"
            )
        };
        let cases = [
            (
                dump("snaplen = 4000000000\n"),
                "dump \"d\": snaplen 4000000000 must be 1..=262144",
            ),
            (dump("snaplen = 0\n"), "snaplen 0 must be 1..=262144"),
            (
                dump("max_file_bytes = 0\n"),
                "max_file_bytes and max_file_seconds must be at least 1",
            ),
            (
                dump("max_file_seconds = 0\n"),
                "max_file_bytes and max_file_seconds must be at least 1",
            ),
            (dump("max_files = 0\n"), "max_files 0 must be 1..=1000"),
            (
                dump("max_files = 1001\n"),
                "max_files 1001 must be 1..=1000",
            ),
            (
                format!("{}{}", dump(""), dump("").replace("\"d\"", "\"e\"")),
                "dump \"e\" writes /tmp/d.pcapng, as dump \"d\" does",
            ),
            (
                format!(
                    "[log]\noutput = \"file\"\ndir = \"/tmp\"\n{}",
                    dump("").replace("/tmp/d.pcapng", "/tmp/ferrocap-stats")
                ),
                "as the log file ferrocap-stats does",
            ),
            (
                "[[port]]\nname = \"net_null0\"\nvdev = \"net_null0\"\npool_size = 0\n".to_owned(),
                "pool_size must be at least 1",
            ),
            (
                "[control]\nbind = \"0.0.0.0:9700\"\ntoken = \"\"\n".to_owned(),
                "token is empty",
            ),
        ];
        for (text, want) in cases {
            let e = load(&text).unwrap_err();
            assert!(e.message.contains(want), "{text}\n{e}");
            assert!(e.line >= 1, "{e}");
        }
        load(&dump("max_files = 1\nmax_file_bytes = 1000000\n")).unwrap();
    }

    #[test]
    fn non_loopback_bind_needs_token() {
        let e = load("[control]\nbind = \"0.0.0.0:9700\"\n").unwrap_err();
        assert!(e.message.contains("token"), "{e}");
        load("[control]\nbind = \"0.0.0.0:9700\"\ntoken = \"s3cret\"\n").unwrap();
    }

    #[test]
    fn control_section_defaults_and_settings() {
        let l = load("").unwrap();
        assert!(l.config.control.enabled);
        assert_eq!(l.config.control.dump_dir, None);
        assert_eq!(l.config.control.bind.get_ref(), "127.0.0.1:9700");
        let l =
            load("[control]\nenabled = false\ndump_dir = \"/var/lib/ferrocap/dumps\"\n").unwrap();
        assert!(!l.config.control.enabled);
        assert_eq!(
            l.config.control.dump_dir.as_deref(),
            Some(Path::new("/var/lib/ferrocap/dumps"))
        );
        let e = load("[control]\nenable = false\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
    }

    #[test]
    fn dump_names_cannot_traverse() {
        for bad in ["../x", "a/b", ".hidden", "", "..", "a..b", "-x"] {
            assert!(validate_dump_name(bad).is_err(), "{bad}");
        }
        validate_dump_name("smb-2026.11").unwrap();
    }

    #[test]
    fn directory_resolves_groups_for_expressions() {
        let l = load(
            "[[interface]]\nname = \"Internet\"\n[ip_groups]\nservers = [\"192.168.1.10\", \"10.0.0.0/8\"]\n\
             [packet_logging]\nexpression = 'if = \"Internet\" & daddr = list:\"servers\"'\n",
        )
        .unwrap();
        assert!(l.directory.interface_index("Internet").is_some());
        let e = load("[packet_logging]\nexpression = 'daddr = list:\"nope\"'\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
    }

    /// Replays the seed corpus of the fuzz target `config`
    /// (`appliance/fuzz/corpus/config`) through [`fuzz_check`].
    #[test]
    fn config_fuzz_corpus_replays() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/config");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("corpus dir")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        assert!(files.len() >= 10, "config corpus has {} files", files.len());
        let mut good = 0;
        for f in &files {
            let text = std::fs::read(f).expect("read");
            fuzz_check(&text);
            good += usize::from(
                std::str::from_utf8(&text).is_ok_and(|t| Config::load_str(f, t).is_ok()),
            );
        }
        assert!(
            good >= 2 && good < files.len(),
            "{good} of {} load",
            files.len()
        );
    }
}
