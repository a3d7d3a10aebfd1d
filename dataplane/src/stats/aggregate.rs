//! Streaming aggregation of one stats log.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::net::IpAddr;
use std::path::Path;

use super::report::{Minute, NamedCount, PortCount, Report, Talker, Totals};
use super::StatsError;
use crate::log::message::{protocol_name, stat_tokens, unquote, PACKET_KEYWORD};
use crate::log::split::{JoinStatus, Joiner};
use crate::log::{MessageId, Severity};

/// One log line taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLine<'a> {
    /// The message id.
    pub id: MessageId,
    /// The severity.
    pub severity: Severity,
    /// The message text after `CODE-NNN-S `.
    pub body: &'a str,
}

fn parse_id(tok: &str) -> Option<(MessageId, Severity)> {
    if tok.len() != 10 {
        return None;
    }
    let (id, sev) = tok.split_at(8);
    let sev = sev.strip_prefix('-')?;
    let mut chars = sev.chars();
    let s = Severity::from_letter(chars.next()?)?;
    Some((MessageId::parse(id)?, s))
}

/// Splits a log line into id, severity and body. Accepts the file layout
/// (`Sep 8 7:40:22 HOST ident[PID.N]: ID-S text`), what syslog daemons write
/// (any prefix ending in `]: `), and a bare `ID-S text`.
pub fn parse_log_line(line: &str) -> Option<LogLine<'_>> {
    let after = match line.find("]: ") {
        Some(i) => line.get(i + 3..)?,
        None => line,
    };
    let (tok, body) = match after.split_once(' ') {
        Some((t, b)) => (t, b),
        None => (after, ""),
    };
    let (id, severity) = parse_id(tok)?;
    Some(LogLine { id, severity, body })
}

/// A small multiply-rotate hasher (the Fx scheme) with a final mix: the keys are addresses,
/// ports and short names from our own logs, and SipHash's protection
/// against chosen keys costs a fifth of the run time here.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        // The multiply leaves the low bits weak, and hashbrown indexes by
        // them: finish with murmur3's fmix64.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_u128(&mut self, i: u128) {
        self.add(i as u64);
        self.add((i >> 64) as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

impl FastHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Counter {
    packets: u64,
    bytes: u64,
}

impl Counter {
    fn add(&mut self, bytes: u64) {
        self.packets += 1;
        self.bytes = self.bytes.saturating_add(bytes);
    }
    fn merge(&mut self, o: Counter) {
        self.packets = self.packets.saturating_add(o.packets);
        self.bytes = self.bytes.saturating_add(o.bytes);
    }
}

/// Running totals of one or more files.
#[derive(Debug, Default)]
pub(super) struct Aggregate {
    lines: u64,
    records: u64,
    packets: u64,
    bytes: u64,
    other_records: u64,
    malformed: u64,
    torn: u64,
    orphans: u64,
    first_ts: Option<u64>,
    last_ts: Option<u64>,
    src: FastMap<IpAddr, Counter>,
    dst: FastMap<IpAddr, Counter>,
    protocols: FastMap<u8, Counter>,
    ports: FastMap<(u8, u16), Counter>,
    interfaces: FastMap<String, Counter>,
    directions: FastMap<String, Counter>,
    timeline: BTreeMap<u64, Counter>,
}

fn parse_endpoint(s: &str) -> Option<(IpAddr, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (addr, port) = rest.split_once("]:")?;
        return Some((addr.parse().ok()?, Some(port.parse().ok()?)));
    }
    if let Some((addr, port)) = s.split_once(':').filter(|(_, p)| !p.contains(':')) {
        // IPv4 with a port (an IPv6 address has more than one colon).
        return Some((IpAddr::V4(addr.parse().ok()?), Some(port.parse().ok()?)));
    }
    s.parse::<IpAddr>().ok().map(|a| (a, None))
}

fn ends_with_backslash(line: &[u8]) -> bool {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    l.ends_with(b"\\")
}

fn parse_proto(s: &str) -> Option<u8> {
    Some(match s {
        "ICMP" => 1,
        "TCP" => 6,
        "UDP" => 17,
        "GRE" => 47,
        "ESP" => 50,
        "AH" => 51,
        "ICMPv6" => 58,
        "SCTP" => 132,
        n => n.parse().ok()?,
    })
}

fn bump(map: &mut FastMap<String, Counter>, key: &str, bytes: u64) {
    match map.get_mut(key) {
        Some(c) => c.add(bytes),
        None => {
            let mut c = Counter::default();
            c.add(bytes);
            map.insert(key.to_string(), c);
        }
    }
}

impl Aggregate {
    /// Aggregates the lines of `path` that start in `start..end` (byte
    /// offsets; `end = u64::MAX` for the whole file).
    ///
    /// Chunks of one file agree on who owns a record split across their
    /// boundary by looking at the same line: the last line starting before
    /// the boundary. If it ends with `\`, the continuation (`~`) lines right
    /// after the boundary belong to the chunk before it, which reads past its
    /// end to take them, and the chunk after it skips them.
    pub(super) fn from_range(path: &Path, start: u64, end: u64) -> Result<Aggregate, StatsError> {
        let err = |source| StatsError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut f = File::open(path).map_err(err)?;
        // The byte two before the boundary: the last character of the
        // previous line when that line ends exactly at the boundary.
        let mut before = [0u8; 1];
        if start >= 2 {
            f.seek(SeekFrom::Start(start - 2)).map_err(err)?;
            f.read_exact(&mut before).map_err(err)?;
        }
        let mut pos = start.saturating_sub(1);
        f.seek(SeekFrom::Start(pos)).map_err(err)?;
        let mut r = BufReader::with_capacity(1 << 20, f);
        let mut agg = Aggregate::default();
        let mut joiner = Joiner::new();
        let mut buf = Vec::with_capacity(512);
        let mut scratch = String::new();
        // Skip the tail of the line the previous chunk owns.
        let mut skipping = false;
        if start > 0 {
            let n = r.read_until(b'\n', &mut buf).map_err(err)?;
            pos += n as u64;
            skipping = if buf == b"\n" {
                before == *b"\\"
            } else {
                ends_with_backslash(&buf)
            };
        }
        let mut claiming = false;
        let mut last_continued = false;
        loop {
            let line_start = pos;
            if line_start >= end && !claiming {
                if !last_continued {
                    break;
                }
                claiming = true;
            }
            buf.clear();
            let n = r.read_until(b'\n', &mut buf).map_err(err)?;
            if n == 0 {
                break;
            }
            pos += n as u64;
            let bytes = buf.strip_suffix(b"\n").unwrap_or(&buf);
            let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
            let text = std::str::from_utf8(bytes).ok();
            let parsed = text.and_then(parse_log_line);
            let is_cont =
                parsed.is_some_and(|l| l.severity == Severity::I && l.body.starts_with('~'));
            if skipping {
                if is_cont {
                    continue;
                }
                skipping = false;
            }
            if claiming && !is_cont {
                break;
            }
            last_continued = ends_with_backslash(bytes);
            agg.lines += 1;
            if text.is_none() {
                agg.malformed += 1;
                continue;
            }
            let Some(l) = parsed else {
                continue;
            };
            if l.severity != Severity::I {
                continue;
            }
            joiner.push(l.body, |rec, st| agg.record(rec, st, &mut scratch));
        }
        joiner.finish(|rec, st| agg.record(rec, st, &mut scratch));
        Ok(agg)
    }

    fn record(&mut self, rec: &str, status: JoinStatus, scratch: &mut String) {
        match status {
            JoinStatus::Complete => {}
            JoinStatus::Torn => self.torn += 1,
            JoinStatus::Orphan => {
                self.orphans += 1;
                return;
            }
        }
        self.records += 1;
        let mut toks = stat_tokens(rec);
        if toks.next() != Some(PACKET_KEYWORD) {
            self.other_records += 1;
            return;
        }
        let mut dir = None;
        let mut iface = None;
        let mut proto = None;
        let mut len = None;
        let mut src = None;
        let mut dst = None;
        let mut ts = None;
        for t in toks {
            let Some((k, v)) = t.split_once('=') else {
                continue;
            };
            match k {
                "DIR" => dir = Some(v),
                "IF" => iface = Some(v),
                "PROTO" => proto = parse_proto(v),
                "LEN" => len = v.parse::<u64>().ok(),
                "SRC" => src = parse_endpoint(v),
                "DST" => dst = parse_endpoint(v),
                "TS" => ts = v.split('.').next().and_then(|s| s.parse::<u64>().ok()),
                _ => {}
            }
        }
        let (Some(dir), Some(iface), Some(proto), Some(len), Some(src), Some(dst), Some(ts)) =
            (dir, iface, proto, len, src, dst, ts)
        else {
            self.malformed += 1;
            return;
        };
        self.packets += 1;
        self.bytes = self.bytes.saturating_add(len);
        self.first_ts = Some(self.first_ts.map_or(ts, |f| f.min(ts)));
        self.last_ts = Some(self.last_ts.map_or(ts, |l| l.max(ts)));
        self.src.entry(src.0).or_default().add(len);
        self.dst.entry(dst.0).or_default().add(len);
        self.protocols.entry(proto).or_default().add(len);
        if let Some(port) = dst.1 {
            self.ports.entry((proto, port)).or_default().add(len);
        }
        let iface = unquote(iface, scratch);
        bump(&mut self.interfaces, iface, len);
        bump(&mut self.directions, dir, len);
        self.timeline.entry(ts - ts % 60).or_default().add(len);
    }

    pub(super) fn merge(&mut self, o: Aggregate) {
        self.lines += o.lines;
        self.records += o.records;
        self.packets += o.packets;
        self.bytes = self.bytes.saturating_add(o.bytes);
        self.other_records += o.other_records;
        self.malformed += o.malformed;
        self.torn += o.torn;
        self.orphans += o.orphans;
        self.first_ts = match (self.first_ts, o.first_ts) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_ts = match (self.last_ts, o.last_ts) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for (k, v) in o.src {
            self.src.entry(k).or_default().merge(v);
        }
        for (k, v) in o.dst {
            self.dst.entry(k).or_default().merge(v);
        }
        for (k, v) in o.protocols {
            self.protocols.entry(k).or_default().merge(v);
        }
        for (k, v) in o.ports {
            self.ports.entry(k).or_default().merge(v);
        }
        for (k, v) in o.interfaces {
            self.interfaces.entry(k).or_default().merge(v);
        }
        for (k, v) in o.directions {
            self.directions.entry(k).or_default().merge(v);
        }
        for (k, v) in o.timeline {
            self.timeline.entry(k).or_default().merge(v);
        }
    }

    pub(super) fn into_report(self, files: Vec<String>, top: usize) -> Report {
        fn ranked<K: Ord + Clone>(m: FastMap<K, Counter>, top: usize) -> Vec<(K, Counter)> {
            let mut v: Vec<(K, Counter)> = m.into_iter().collect();
            v.sort_by(|a, b| {
                b.1.packets
                    .cmp(&a.1.packets)
                    .then(b.1.bytes.cmp(&a.1.bytes))
                    .then(a.0.cmp(&b.0))
            });
            v.truncate(top);
            v
        }
        let talkers = |m| {
            ranked(m, top)
                .into_iter()
                .map(|(a, c): (IpAddr, Counter)| Talker {
                    addr: a.to_string(),
                    packets: c.packets,
                    bytes: c.bytes,
                })
                .collect()
        };
        let named = |m: FastMap<String, Counter>, top| {
            ranked(m, top)
                .into_iter()
                .map(|(name, c)| NamedCount {
                    name,
                    packets: c.packets,
                    bytes: c.bytes,
                })
                .collect()
        };
        let protocols = ranked(self.protocols, usize::MAX)
            .into_iter()
            .map(|(p, c)| NamedCount {
                name: protocol_name(p).to_string(),
                packets: c.packets,
                bytes: c.bytes,
            })
            .collect();
        let ports = ranked(self.ports, top)
            .into_iter()
            .map(|((p, port), c)| PortCount {
                protocol: protocol_name(p).to_string(),
                port,
                packets: c.packets,
                bytes: c.bytes,
            })
            .collect();
        Report {
            files,
            totals: Totals {
                lines: self.lines,
                records: self.records,
                packets: self.packets,
                bytes: self.bytes,
                other_records: self.other_records,
                malformed: self.malformed,
                torn: self.torn,
                orphans: self.orphans,
            },
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            top_sources: talkers(self.src),
            top_destinations: talkers(self.dst),
            protocols,
            ports,
            interfaces: named(self.interfaces, usize::MAX),
            directions: named(self.directions, usize::MAX),
            timeline: self
                .timeline
                .into_iter()
                .map(|(minute, c)| Minute {
                    minute,
                    packets: c.packets,
                    bytes: c.bytes,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_line_forms() {
        let l = parse_log_line("Sep 8 7:40:22 fw ferrocap[12.0]: PFLG-888-I PACKET X=1 ACCEPTED")
            .unwrap();
        assert_eq!(l.id.to_string(), "PFLG-888");
        assert_eq!(l.severity, Severity::I);
        assert_eq!(l.body, "PACKET X=1 ACCEPTED");
        let l = parse_log_line(
            "2023-09-08T07:40:22+00:00 fw ferrocap[12.3]: SLOG-110-K level changed to 6",
        )
        .unwrap();
        assert_eq!(l.severity, Severity::K);
        let l = parse_log_line("PFLG-888-I ~tail").unwrap();
        assert_eq!(l.body, "~tail");
        assert!(parse_log_line("random text").is_none());
        assert!(parse_log_line("x[1]: NOPE-888-I y").is_none());
        assert!(parse_log_line("").is_none());
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            parse_endpoint("10.0.0.1:80"),
            Some(("10.0.0.1".parse().unwrap(), Some(80)))
        );
        assert_eq!(
            parse_endpoint("[2001:db8::1]:443"),
            Some(("2001:db8::1".parse().unwrap(), Some(443)))
        );
        assert_eq!(parse_endpoint("::1"), Some(("::1".parse().unwrap(), None)));
        assert_eq!(
            parse_endpoint("10.0.0.1"),
            Some(("10.0.0.1".parse().unwrap(), None))
        );
        assert_eq!(parse_endpoint("10.0.0.1:99999"), None);
        assert_eq!(parse_endpoint("nonsense"), None);
    }
}
