//! The statistics report and its text and JSON forms.

use std::fmt::Write as _;

use serde::Serialize;

use crate::log::envelope::CivilTime;

/// Counts over all input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Physical lines read.
    pub lines: u64,
    /// Statistical records after joining split parts (orphans excluded).
    pub records: u64,
    /// Packet (`PACKET`) records.
    pub packets: u64,
    /// Sum of the packets' `LEN`.
    pub bytes: u64,
    /// Statistical records of other kinds (dumps, summaries, counters).
    pub other_records: u64,
    /// Lines that are not UTF-8 and packet records missing a field.
    pub malformed: u64,
    /// Records whose last part was missing (counted, and used if complete).
    pub torn: u64,
    /// Continuation lines with no record before them (ignored).
    pub orphans: u64,
}

/// Traffic of one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Talker {
    /// The address.
    pub addr: String,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Traffic of one named thing: a protocol, an interface or a direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedCount {
    /// The name.
    pub name: String,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Traffic to one destination port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortCount {
    /// The protocol name (`TCP`, `UDP`, …).
    pub protocol: String,
    /// The destination port.
    pub port: u16,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Traffic in one minute of capture time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Minute {
    /// Start of the minute, seconds since the Unix epoch.
    pub minute: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// The result of [`analyze`](super::analyze).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The input files.
    pub files: Vec<String>,
    /// Totals.
    pub totals: Totals,
    /// Earliest capture time stamp (seconds since the epoch).
    pub first_ts: Option<u64>,
    /// Latest capture time stamp (seconds since the epoch).
    pub last_ts: Option<u64>,
    /// Top source addresses by packets.
    pub top_sources: Vec<Talker>,
    /// Top destination addresses by packets.
    pub top_destinations: Vec<Talker>,
    /// All protocols by packets.
    pub protocols: Vec<NamedCount>,
    /// Top destination ports by packets.
    pub ports: Vec<PortCount>,
    /// All interfaces by packets.
    pub interfaces: Vec<NamedCount>,
    /// All directions by packets.
    pub directions: Vec<NamedCount>,
    /// Packets and bytes per minute, in time order (minutes without
    /// packets are absent).
    pub timeline: Vec<Minute>,
}

/// `YYYY-MM-DD HH:MM:SS` (UTC).
pub(super) fn utc(secs: u64) -> String {
    let t = CivilTime::from_unix(i64::try_from(secs).unwrap_or(i64::MAX));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

fn table(out: &mut String, title: &str, head: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "\n{title}");
    if rows.is_empty() {
        out.push_str("  (none)\n");
        return;
    }
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(c.chars().count());
            }
        }
    }
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        out.push(' ');
        for (i, c) in cells.enumerate() {
            let width = w.get(i).copied().unwrap_or(0);
            // First column left-aligned, numbers right-aligned.
            if i == 0 {
                let _ = write!(out, " {c:<width$}");
            } else {
                let _ = write!(out, "  {c:>width$}");
            }
        }
        out.push('\n');
    };
    line(out, &mut head.iter().copied());
    for r in rows {
        line(out, &mut r.iter().map(String::as_str));
    }
}

/// One table of a report, for the text and HTML renderings alike.
pub(super) struct Table {
    /// Its heading.
    pub(super) title: &'static str,
    /// Column names.
    pub(super) head: [&'static str; 3],
    /// Cells, row by row.
    pub(super) rows: Vec<Vec<String>>,
}

impl Report {
    /// The breakdown tables, in report order; the per-minute timeline last
    /// when `timeline` (the HTML report draws it as a chart instead).
    pub(super) fn tables(&self, timeline: bool) -> Vec<Table> {
        let talk = |v: &[Talker]| -> Vec<Vec<String>> {
            v.iter()
                .map(|x| vec![x.addr.clone(), x.packets.to_string(), x.bytes.to_string()])
                .collect()
        };
        let named = |v: &[NamedCount]| -> Vec<Vec<String>> {
            v.iter()
                .map(|x| vec![x.name.clone(), x.packets.to_string(), x.bytes.to_string()])
                .collect()
        };
        let ports = self
            .ports
            .iter()
            .map(|p| {
                vec![
                    format!("{}/{}", p.port, p.protocol),
                    p.packets.to_string(),
                    p.bytes.to_string(),
                ]
            })
            .collect();
        let mut tables = vec![
            Table {
                title: "Top sources",
                head: ["address", "packets", "bytes"],
                rows: talk(&self.top_sources),
            },
            Table {
                title: "Top destinations",
                head: ["address", "packets", "bytes"],
                rows: talk(&self.top_destinations),
            },
            Table {
                title: "Protocols",
                head: ["protocol", "packets", "bytes"],
                rows: named(&self.protocols),
            },
            Table {
                title: "Top destination ports",
                head: ["port", "packets", "bytes"],
                rows: ports,
            },
            Table {
                title: "Interfaces",
                head: ["interface", "packets", "bytes"],
                rows: named(&self.interfaces),
            },
            Table {
                title: "Directions",
                head: ["direction", "packets", "bytes"],
                rows: named(&self.directions),
            },
        ];
        if timeline {
            let rows = self
                .timeline
                .iter()
                .map(|m| {
                    let s = utc(m.minute);
                    vec![
                        s.get(..16).unwrap_or(&s).to_string(),
                        m.packets.to_string(),
                        m.bytes.to_string(),
                    ]
                })
                .collect();
            tables.push(Table {
                title: "Timeline (per minute, UTC)",
                head: ["minute", "packets", "bytes"],
                rows,
            });
        }
        tables
    }

    /// The report as plain-text tables.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let t = &self.totals;
        out.push_str("ferrocap statistics\n");
        let _ = writeln!(out, "files: {}", self.files.join(", "));
        if let (Some(a), Some(b)) = (self.first_ts, self.last_ts) {
            let _ = writeln!(out, "period: {} .. {} UTC", utc(a), utc(b));
        }
        let _ = writeln!(
            out,
            "records: {}  packets: {}  bytes: {}  other records: {}  malformed: {}  torn: {}  orphans: {}  lines: {}",
            t.records, t.packets, t.bytes, t.other_records, t.malformed, t.torn, t.orphans, t.lines
        );
        for t in self.tables(true) {
            table(&mut out, t.title, &t.head, &t.rows);
        }
        out
    }

    /// The report as pretty-printed JSON (the field names of [`Report`]).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The report as a self-contained HTML page with an inline SVG chart.
    pub fn to_html(&self) -> String {
        super::html::render(self)
    }
}
