//! The texts of the seed's five message types.
//!
//! - panic: [`panic_text`] → `**PANIC** [file.rs:97] func(): text`
//! - errno: [`errno_text`] / [`errno_text!`](crate::errno_text) →
//!   `[file.rs:97] open(): Permission denied (EACCES=13)`, logged as KERN-100
//! - configuration errors: [`config_error_text`] → `Line N, char M: text`
//! - ordinary messages: [`CatalogEntry::render`](super::catalog::CatalogEntry::render)
//! - statistical: [`StatRecord`] → `KEYWORD KEY=VALUE … ACCEPTED|REJECTED|FAILED`
//!
//! # Quoting of statistical values
//! A value is written bare unless it is empty or contains a space, `=`, `"`,
//! `\` or a control character. Then it is written in double quotes, with
//! `"` as `\"`, `\` as `\\`, newline as `\n`, carriage return as `\r`, tab
//! as `\t` and other control characters as `\xHH`. A record therefore never
//! contains a line break, and [`parse_stat`] splits it back into exactly the
//! fields that were written.
#![forbid(unsafe_code)]

use std::fmt::{self, Write as _};
use std::io;
use std::net::IpAddr;
use std::time::Duration;

/// `**PANIC** [file:line] func(): text`.
pub fn panic_text(file: &str, line: u32, func: &str, text: &str) -> String {
    format!(
        "**PANIC** [{}:{}] {}(): {}",
        base_name(file),
        line,
        func,
        text
    )
}

/// `Line N, char M: text` (1-based line and character).
pub fn config_error_text(line: usize, char_pos: usize, text: &str) -> String {
    format!("Line {line}, char {char_pos}: {text}")
}

/// The file name without its directories (`src/log/mod.rs` → `mod.rs`).
pub fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// The errno constant's name for common Linux errno values.
pub fn errno_name(errno: i32) -> Option<&'static str> {
    Some(match errno {
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        4 => "EINTR",
        5 => "EIO",
        6 => "ENXIO",
        7 => "E2BIG",
        8 => "ENOEXEC",
        9 => "EBADF",
        10 => "ECHILD",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        18 => "EXDEV",
        19 => "ENODEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        23 => "ENFILE",
        24 => "EMFILE",
        25 => "ENOTTY",
        26 => "ETXTBSY",
        27 => "EFBIG",
        28 => "ENOSPC",
        29 => "ESPIPE",
        30 => "EROFS",
        31 => "EMLINK",
        32 => "EPIPE",
        36 => "ENAMETOOLONG",
        38 => "ENOSYS",
        39 => "ENOTEMPTY",
        40 => "ELOOP",
        71 => "EPROTO",
        75 => "EOVERFLOW",
        88 => "ENOTSOCK",
        90 => "EMSGSIZE",
        91 => "EPROTOTYPE",
        93 => "EPROTONOSUPPORT",
        95 => "EOPNOTSUPP",
        97 => "EAFNOSUPPORT",
        98 => "EADDRINUSE",
        99 => "EADDRNOTAVAIL",
        100 => "ENETDOWN",
        101 => "ENETUNREACH",
        103 => "ECONNABORTED",
        104 => "ECONNRESET",
        105 => "ENOBUFS",
        106 => "EISCONN",
        107 => "ENOTCONN",
        110 => "ETIMEDOUT",
        111 => "ECONNREFUSED",
        112 => "EHOSTDOWN",
        113 => "EHOSTUNREACH",
        122 => "EDQUOT",
        125 => "ECANCELED",
        _ => return None,
    })
}

/// `[file:line] call(): Permission denied (EACCES=13)` for an OS error; for
/// an error without an errno the parenthesis is left out, and an unknown
/// errno shows as `(errno=N)`.
pub fn errno_text(file: &str, line: u32, call: &str, err: &io::Error) -> String {
    let mut s = String::with_capacity(64);
    let _ = write!(s, "[{}:{}] {}(): ", base_name(file), line, call);
    match err.raw_os_error() {
        Some(n) => {
            let full = io::Error::from_raw_os_error(n).to_string();
            let suffix = format!(" (os error {n})");
            let text = full.strip_suffix(&suffix).unwrap_or(&full);
            let _ = write!(s, "{} ({}={})", text, errno_name(n).unwrap_or("errno"), n);
        }
        None => {
            let _ = write!(s, "{err}");
        }
    }
    s
}

/// The errno text for `err` from the system call `call`, located at the
/// macro's call site: `errno_text!("open", &err)`.
#[macro_export]
macro_rules! errno_text {
    ($call:expr, $err:expr) => {
        $crate::log::message::errno_text(::core::file!(), ::core::line!(), $call, $err)
    };
}

/// How a statistical record ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Outcome {
    /// `ACCEPTED`.
    Accepted,
    /// `REJECTED`.
    Rejected,
    /// `FAILED`.
    Failed,
}

impl Outcome {
    /// The closing keyword.
    pub const fn keyword(self) -> &'static str {
        match self {
            Outcome::Accepted => "ACCEPTED",
            Outcome::Rejected => "REJECTED",
            Outcome::Failed => "FAILED",
        }
    }

    /// The outcome for a closing keyword.
    pub fn from_keyword(s: &str) -> Option<Outcome> {
        match s {
            "ACCEPTED" => Some(Outcome::Accepted),
            "REJECTED" => Some(Outcome::Rejected),
            "FAILED" => Some(Outcome::Failed),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// A builder for one statistical record. It writes into a single `String`
/// (the only allocation per record; pass a capacity hint to avoid growth).
#[derive(Debug)]
pub struct StatRecord {
    buf: String,
}

fn needs_quoting(s: &str) -> bool {
    s.is_empty()
        || s.chars()
            .any(|c| c == ' ' || c == '=' || c == '"' || c == '\\' || c.is_control())
}

fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c) & 0xff);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl StatRecord {
    /// A record starting with `keyword` (an upper-case word; written as is).
    pub fn new(keyword: &str) -> StatRecord {
        StatRecord::with_capacity(keyword, 128)
    }

    /// Like [`StatRecord::new`] with a capacity hint for the whole record.
    pub fn with_capacity(keyword: &str, capacity: usize) -> StatRecord {
        let mut buf = String::with_capacity(capacity.max(keyword.len() + 16));
        buf.push_str(keyword);
        StatRecord { buf }
    }

    /// Appends ` KEY=value`, quoting the value when needed (see the module
    /// docs). The value is formatted straight into the record.
    pub fn field(mut self, key: &str, value: impl fmt::Display) -> StatRecord {
        self.push_field(key, value);
        self
    }

    /// [`StatRecord::field`] by reference, for loops.
    pub fn push_field(&mut self, key: &str, value: impl fmt::Display) {
        self.buf.push(' ');
        self.buf.push_str(key);
        self.buf.push('=');
        let start = self.buf.len();
        let _ = write!(self.buf, "{value}");
        let written = self.buf.get(start..).unwrap_or("");
        if needs_quoting(written) {
            // Rare path: the one extra allocation is for values that need quotes.
            let raw = self.buf.split_off(start);
            push_quoted(&mut self.buf, &raw);
        }
    }

    /// Closes the record with its outcome keyword and returns the text.
    pub fn finish(mut self, outcome: Outcome) -> String {
        self.buf.push(' ');
        self.buf.push_str(outcome.keyword());
        self.buf
    }
}

/// One statistical record taken apart by [`parse_stat`]. Values are raw
/// slices of the record; a quoted value keeps its quotes and escapes (use
/// [`unquote`] to decode it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedStat<'a> {
    /// The leading keyword.
    pub keyword: &'a str,
    /// The `KEY=VALUE` pairs in order.
    pub fields: Vec<(&'a str, &'a str)>,
    /// The closing keyword, if the record has one.
    pub outcome: Option<Outcome>,
}

/// Iterates over the whitespace-separated tokens of a statistical record;
/// a double-quoted section (with `\` escapes) is part of its token.
pub fn stat_tokens(record: &str) -> StatTokens<'_> {
    StatTokens { rest: record }
}

/// The iterator returned by [`stat_tokens`].
#[derive(Debug, Clone)]
pub struct StatTokens<'a> {
    rest: &'a str,
}

impl<'a> Iterator for StatTokens<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest.trim_start_matches(' ');
        if s.is_empty() {
            self.rest = s;
            return None;
        }
        let bytes = s.as_bytes();
        // Fast path: a bare token ends at the next space.
        match bytes.iter().position(|&b| b == b' ' || b == b'"') {
            None => {
                self.rest = "";
                return Some(s);
            }
            Some(i) if bytes.get(i) == Some(&b' ') => {
                let (tok, rest) = s.split_at(i);
                self.rest = rest;
                return Some(tok);
            }
            Some(_) => {}
        }
        let mut i = 0;
        let mut in_quotes = false;
        while i < bytes.len() {
            match bytes.get(i) {
                Some(b'\\') if in_quotes => i += 1,
                Some(b'"') => in_quotes = !in_quotes,
                Some(b' ') if !in_quotes => break,
                _ => {}
            }
            i += 1;
        }
        let end = i.min(bytes.len());
        // `end` is at a space, past the end, or after an ASCII byte: a char boundary.
        let (tok, rest) = s.split_at(if s.is_char_boundary(end) {
            end
        } else {
            s.len()
        });
        self.rest = rest;
        Some(tok)
    }
}

/// Splits a statistical record into keyword, fields and outcome. Tokens
/// without `=` other than the first and a final outcome keyword are
/// ignored. Returns `None` for an empty record.
pub fn parse_stat(record: &str) -> Option<ParsedStat<'_>> {
    let mut toks = stat_tokens(record);
    let keyword = toks.next()?;
    let mut fields = Vec::new();
    let mut outcome = None;
    for t in toks {
        if let Some((k, v)) = t.split_once('=') {
            fields.push((k, v));
            outcome = None;
        } else {
            outcome = Outcome::from_keyword(t);
        }
    }
    Some(ParsedStat {
        keyword,
        fields,
        outcome,
    })
}

/// Decodes a value as written by [`StatRecord`]: bare values are returned
/// as they are; quoted ones are unescaped into `scratch`.
pub fn unquote<'a>(value: &'a str, scratch: &'a mut String) -> &'a str {
    let Some(inner) = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .filter(|_| value.len() >= 2)
    else {
        return value;
    };
    scratch.clear();
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            scratch.push(c);
            continue;
        }
        match it.next() {
            Some('n') => scratch.push('\n'),
            Some('r') => scratch.push('\r'),
            Some('t') => scratch.push('\t'),
            Some('x') => {
                let h: String = it.by_ref().take(2).collect();
                if let Some(c) = u8::from_str_radix(&h, 16).ok().map(char::from) {
                    scratch.push(c);
                }
            }
            Some(c) => scratch.push(c),
            None => scratch.push('\\'),
        }
    }
    scratch
}

/// The direction of a logged packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketDirection {
    /// Inbound on its interface.
    In,
    /// Outbound on its interface.
    Out,
    /// The interface has no direction rule.
    Unknown,
}

impl PacketDirection {
    /// `in`, `out` or `unknown`.
    pub const fn as_str(self) -> &'static str {
        match self {
            PacketDirection::In => "in",
            PacketDirection::Out => "out",
            PacketDirection::Unknown => "unknown",
        }
    }
}

/// The IP protocol name used in packet records: `TCP`, `UDP`, `ICMP`,
/// `ICMPv6`, `GRE`, `ESP`, `AH`, `SCTP`, or the number.
pub fn protocol_name(proto: u8) -> ProtoName {
    ProtoName(proto)
}

/// Display adapter returned by [`protocol_name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtoName(pub u8);

impl fmt::Display for ProtoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("ICMP"),
            6 => f.write_str("TCP"),
            17 => f.write_str("UDP"),
            47 => f.write_str("GRE"),
            50 => f.write_str("ESP"),
            51 => f.write_str("AH"),
            58 => f.write_str("ICMPv6"),
            132 => f.write_str("SCTP"),
            n => write!(f, "{n}"),
        }
    }
}

/// An address with an optional port: `10.0.0.1:80`, `[2001:db8::1]:80`,
/// `10.0.0.1`, `2001:db8::1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// The address.
    pub addr: IpAddr,
    /// The port, for TCP/UDP/SCTP packets whose header was read.
    pub port: Option<u16>,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.addr, self.port) {
            (IpAddr::V4(a), Some(p)) => write!(f, "{a}:{p}"),
            (IpAddr::V6(a), Some(p)) => write!(f, "[{a}]:{p}"),
            (a, None) => write!(f, "{a}"),
        }
    }
}

/// TCP flag bits as a comma-separated list: `SYN,ACK`; `NONE` for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpFlags(pub u8);

const FLAG_NAMES: [(u8, &str); 8] = [
    (0x01, "FIN"),
    (0x02, "SYN"),
    (0x04, "RST"),
    (0x08, "PSH"),
    (0x10, "ACK"),
    (0x20, "URG"),
    (0x40, "ECE"),
    (0x80, "CWR"),
];

impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("NONE");
        }
        let mut first = true;
        for (bit, name) in FLAG_NAMES {
            if self.0 & bit != 0 {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// A capture time stamp shown as `seconds.microseconds` since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub Duration);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.0.as_secs(), self.0.subsec_micros())
    }
}

/// One logged packet: the fields of a `PFLG-888-I` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketRecord<'a> {
    /// Direction on the capture interface.
    pub direction: PacketDirection,
    /// The capture interface name (`iif`).
    pub interface: &'a str,
    /// IP protocol number.
    pub protocol: u8,
    /// Frame length in bytes (on the wire).
    pub length: u32,
    /// Source address and port.
    pub src: Endpoint,
    /// Destination address and port.
    pub dst: Endpoint,
    /// TCP flags, for TCP packets whose header was read.
    pub tcp_flags: Option<u8>,
    /// Capture time since the Unix epoch.
    pub timestamp: Duration,
}

/// The keyword of packet records.
pub const PACKET_KEYWORD: &str = "PACKET";

impl PacketRecord<'_> {
    /// The record text, one `String`:
    /// `PACKET DIR=in IF=Internet PROTO=TCP LEN=60 SRC=10.0.0.1:1234
    /// DST=192.168.1.10:80 FLAGS=SYN TS=1694158822.123456 ACCEPTED`.
    /// `FLAGS` is present only when `tcp_flags` is; `IF` is quoted when the
    /// interface name contains a space.
    pub fn to_record(&self) -> String {
        let mut r = StatRecord::with_capacity(PACKET_KEYWORD, 160);
        r.push_field("DIR", self.direction.as_str());
        r.push_field("IF", self.interface);
        r.push_field("PROTO", protocol_name(self.protocol));
        r.push_field("LEN", self.length);
        r.push_field("SRC", self.src);
        r.push_field("DST", self.dst);
        if let Some(fl) = self.tcp_flags {
            r.push_field("FLAGS", TcpFlags(fl));
        }
        r.push_field("TS", Timestamp(self.timestamp));
        r.finish(Outcome::Accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn panic_and_config_texts() {
        assert_eq!(
            panic_text("src/proxy/ftp.rs", 97, "ftpadr", "Bad IP type (0)"),
            "**PANIC** [ftp.rs:97] ftpadr(): Bad IP type (0)"
        );
        assert_eq!(
            config_error_text(21, 1, "Exactly one of DENY and ACCEPT must be specified"),
            "Line 21, char 1: Exactly one of DENY and ACCEPT must be specified"
        );
    }

    #[test]
    fn errno_texts() {
        let e = io::Error::from_raw_os_error(13);
        assert_eq!(
            errno_text("src/log/mod.rs", 97, "open", &e),
            "[mod.rs:97] open(): Permission denied (EACCES=13)"
        );
        let e = io::Error::from_raw_os_error(28);
        assert_eq!(
            errno_text("a.rs", 1, "write", &e),
            "[a.rs:1] write(): No space left on device (ENOSPC=28)"
        );
        let e = io::Error::from_raw_os_error(200);
        assert!(errno_text("a.rs", 1, "x", &e).ends_with("(errno=200)"));
        let e = io::Error::other("custom");
        assert_eq!(errno_text("a.rs", 2, "y", &e), "[a.rs:2] y(): custom");
        let e = io::Error::from_raw_os_error(2);
        let t = crate::errno_text!("open", &e);
        assert!(t.starts_with("[message.rs:"), "{t}");
        assert!(
            t.ends_with("] open(): No such file or directory (ENOENT=2)"),
            "{t}"
        );
    }

    #[test]
    fn stat_record_quoting() {
        let r = StatRecord::new("ACL")
            .field("PHASE", 2)
            .field("USER", "des")
            .field("NAME", "two words")
            .field("EXPR", "a=b")
            .field("Q", "say \"hi\"\\")
            .field("E", "")
            .field("NL", "a\nb")
            .finish(Outcome::Accepted);
        assert_eq!(
            r,
            "ACL PHASE=2 USER=des NAME=\"two words\" EXPR=\"a=b\" Q=\"say \\\"hi\\\"\\\\\" E=\"\" NL=\"a\\nb\" ACCEPTED"
        );
        let p = parse_stat(&r).unwrap();
        assert_eq!(p.keyword, "ACL");
        assert_eq!(p.outcome, Some(Outcome::Accepted));
        let mut scratch = String::new();
        let vals: Vec<(String, String)> = p
            .fields
            .iter()
            .map(|(k, v)| (k.to_string(), unquote(v, &mut scratch).to_string()))
            .collect();
        let expect = [
            ("PHASE", "2"),
            ("USER", "des"),
            ("NAME", "two words"),
            ("EXPR", "a=b"),
            ("Q", "say \"hi\"\\"),
            ("E", ""),
            ("NL", "a\nb"),
        ];
        assert_eq!(vals.len(), expect.len());
        for ((k, v), (ek, ev)) in vals.iter().zip(expect) {
            assert_eq!((k.as_str(), v.as_str()), (ek, ev));
        }
    }

    #[test]
    fn packet_record_format() {
        let r = PacketRecord {
            direction: PacketDirection::In,
            interface: "Internet",
            protocol: 6,
            length: 60,
            src: Endpoint {
                addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
                port: Some(1234),
            },
            dst: Endpoint {
                addr: IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10)),
                port: Some(80),
            },
            tcp_flags: Some(0x12),
            timestamp: Duration::new(1_694_158_822, 123_456_789),
        };
        assert_eq!(
            r.to_record(),
            "PACKET DIR=in IF=Internet PROTO=TCP LEN=60 SRC=10.0.0.1:1234 DST=192.168.1.10:80 FLAGS=SYN,ACK TS=1694158822.123456 ACCEPTED"
        );
        let r6 = PacketRecord {
            direction: PacketDirection::Unknown,
            interface: "LAN 2",
            protocol: 58,
            length: 118,
            src: Endpoint {
                addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
                port: None,
            },
            dst: Endpoint {
                addr: IpAddr::V6("2001:db8::1".parse().unwrap()),
                port: None,
            },
            tcp_flags: None,
            timestamp: Duration::new(5, 0),
        };
        assert_eq!(
            r6.to_record(),
            "PACKET DIR=unknown IF=\"LAN 2\" PROTO=ICMPv6 LEN=118 SRC=::1 DST=2001:db8::1 TS=5.000000 ACCEPTED"
        );
        let e = Endpoint {
            addr: IpAddr::V6("2001:db8::1".parse().unwrap()),
            port: Some(443),
        };
        assert_eq!(e.to_string(), "[2001:db8::1]:443");
        assert_eq!(TcpFlags(0).to_string(), "NONE");
        assert_eq!(
            TcpFlags(0xff).to_string(),
            "FIN,SYN,RST,PSH,ACK,URG,ECE,CWR"
        );
        assert_eq!(protocol_name(200).to_string(), "200");
    }
}
