//! The message envelope: `Sep 8 7:40:22 HOST IDENT[PID.N]: CODE-NNN-S text`.
//!
//! Formatting here is pure: the time is passed in as a [`CivilTime`], and no
//! function in this module reads a clock (quinn style), so the output is
//! deterministic and tested byte for byte. Times are UTC.
//!
//! Two layouts exist:
//! - [`format_line`], the seed's layout, used for file outputs and the memory
//!   log: day without padding, hour without a leading zero (`Sep 8 7:40:22`);
//! - [`format_syslog`], an RFC 3164 datagram for LOCAL4: `<PRI>` followed by
//!   the RFC timestamp (`Sep  8 07:40:22`, which syslog daemons parse), then
//!   the same `HOST IDENT[PID.N]: CODE-NNN-S text`.
#![forbid(unsafe_code)]

use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use super::level::Severity;

/// A component code: four letters, the first part of a message id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    /// `KERN`: general messages; `KERN-100` are errno messages.
    Kern,
    /// `CFGP`: configuration parsing.
    Cfgp,
    /// `SLOG`: the logging facility itself.
    Slog,
    /// `MONI`: runtime monitoring.
    Moni,
    /// `PFLG`: the packet logger.
    Pflg,
    /// `EXPR`: the expression compiler.
    Expr,
    /// `PDMP`: the packet dump writer.
    Pdmp,
    /// `DPDE`: DPDK EAL.
    Dpde,
    /// `DPDP`: DPDK ports.
    Dpdp,
    /// `DPDW`: DPDK workers.
    Dpdw,
    /// `CTLH`: control plane HTTP.
    Ctlh,
    /// `CTLM`: control plane metrics.
    Ctlm,
    /// `APPL`: the main program.
    Appl,
}

impl Component {
    /// Every component.
    pub const ALL: [Component; 13] = [
        Component::Kern,
        Component::Cfgp,
        Component::Slog,
        Component::Moni,
        Component::Pflg,
        Component::Expr,
        Component::Pdmp,
        Component::Dpde,
        Component::Dpdp,
        Component::Dpdw,
        Component::Ctlh,
        Component::Ctlm,
        Component::Appl,
    ];

    /// The four-letter code.
    pub const fn code(self) -> &'static str {
        match self {
            Component::Kern => "KERN",
            Component::Cfgp => "CFGP",
            Component::Slog => "SLOG",
            Component::Moni => "MONI",
            Component::Pflg => "PFLG",
            Component::Expr => "EXPR",
            Component::Pdmp => "PDMP",
            Component::Dpde => "DPDE",
            Component::Dpdp => "DPDP",
            Component::Dpdw => "DPDW",
            Component::Ctlh => "CTLH",
            Component::Ctlm => "CTLM",
            Component::Appl => "APPL",
        }
    }

    /// What the component is, for the generated catalog document.
    pub const fn description(self) -> &'static str {
        match self {
            Component::Kern => "general messages (KERN-100: errno messages)",
            Component::Cfgp => "configuration parsing",
            Component::Slog => "the logging facility itself",
            Component::Moni => "runtime monitoring",
            Component::Pflg => "the packet logger",
            Component::Expr => "the expression compiler",
            Component::Pdmp => "the packet dump writer",
            Component::Dpde => "DPDK environment (EAL)",
            Component::Dpdp => "DPDK ports",
            Component::Dpdw => "DPDK workers",
            Component::Ctlh => "control plane, HTTP",
            Component::Ctlm => "control plane, metrics",
            Component::Appl => "the main program",
        }
    }

    /// The component for a four-letter code.
    pub fn from_code(code: &str) -> Option<Component> {
        Component::ALL.into_iter().find(|c| c.code() == code)
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A message identification without the severity: `PFLG-888`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId {
    /// The component code.
    pub component: Component,
    /// The message number, 0..=999.
    pub number: u16,
}

impl MessageId {
    /// A message id.
    pub const fn new(component: Component, number: u16) -> Self {
        MessageId { component, number }
    }

    /// Parses `CODE-NNN` (exactly three digits).
    pub fn parse(s: &str) -> Option<MessageId> {
        let (code, num) = s.split_once('-')?;
        let component = Component::from_code(code)?;
        if num.len() != 3 || !num.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(MessageId {
            component,
            number: num.parse().ok()?,
        })
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:03}", self.component, self.number)
    }
}

/// A broken-down UTC time. The envelope shows it without the year, as the
/// seed's layout does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilTime {
    /// Year (proleptic Gregorian; not shown in the envelope).
    pub year: i64,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of the month, 1..=31.
    pub day: u8,
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=59.
    pub second: u8,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl CivilTime {
    /// The UTC civil time `secs` seconds after the Unix epoch (negative
    /// values are before it).
    pub fn from_unix(secs: i64) -> CivilTime {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        // Howard Hinnant's days-to-civil, in i64 so no input overflows.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        CivilTime {
            year: yoe + era * 400 + i64::from(month <= 2),
            month: month as u8,
            day: day as u8,
            hour: (rem / 3600) as u8,
            minute: (rem % 3600 / 60) as u8,
            second: (rem % 60) as u8,
        }
    }

    /// The UTC civil time of `t` (times before the epoch count backwards).
    pub fn from_system_time(t: SystemTime) -> CivilTime {
        let secs = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        };
        CivilTime::from_unix(secs)
    }

    /// The three-letter month abbreviation.
    pub fn month_abbrev(&self) -> &'static str {
        MONTHS
            .get(usize::from(self.month.saturating_sub(1)))
            .copied()
            .unwrap_or("???")
    }
}

/// Who is logging: the parts of the envelope that stay fixed for a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The host name.
    pub host: String,
    /// The application identification (default `ferrocap`).
    pub ident: String,
    /// The process id.
    pub pid: u32,
}

/// The message line in the seed's layout, without a trailing newline,
/// appended to `out`: `Sep 8 7:40:22 HOST IDENT[PID.N]: CODE-NNN-S text`.
pub fn format_line(
    out: &mut String,
    time: &CivilTime,
    origin: &Origin,
    track: u32,
    id: MessageId,
    severity: Severity,
    text: &str,
) {
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{} {} {}:{:02}:{:02} {} {}[{}.{}]: {}-{} {}",
        time.month_abbrev(),
        time.day,
        time.hour,
        time.minute,
        time.second,
        origin.host,
        origin.ident,
        origin.pid,
        track,
        id,
        severity.letter(),
        text
    );
}

/// Syslog facility LOCAL4.
pub const FACILITY_LOCAL4: u8 = 20;

/// An RFC 3164 datagram for facility LOCAL4, appended to `out`:
/// `<PRI>Sep  8 07:40:22 HOST IDENT[PID.N]: CODE-NNN-S text` where
/// PRI = 20 × 8 + the severity's syslog value.
pub fn format_syslog(
    out: &mut String,
    time: &CivilTime,
    origin: &Origin,
    track: u32,
    id: MessageId,
    severity: Severity,
    text: &str,
) {
    let pri = u16::from(FACILITY_LOCAL4) * 8 + u16::from(severity.syslog());
    let _ = write!(
        out,
        "<{}>{} {:>2} {:02}:{:02}:{:02} {} {}[{}.{}]: {}-{} {}",
        pri,
        time.month_abbrev(),
        time.day,
        time.hour,
        time.minute,
        time.second,
        origin.host,
        origin.ident,
        origin.pid,
        track,
        id,
        severity.letter(),
        text
    );
}

/// The system host name from `/proc/sys/kernel/hostname`, or `localhost`
/// when it cannot be read. The full name is kept, dots included.
pub fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && !s.contains(char::is_whitespace))
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin {
            host: "fw".into(),
            ident: "ferrocap".into(),
            pid: 2018,
        }
    }

    #[test]
    fn civil_time_table() {
        let table = [
            (0i64, (1970, 1, 1, 0, 0, 0)),
            (1_694_158_822, (2023, 9, 8, 7, 40, 22)),
            (951_782_400, (2000, 2, 29, 0, 0, 0)),
            (1_735_689_599, (2024, 12, 31, 23, 59, 59)),
            (-1, (1969, 12, 31, 23, 59, 59)),
        ];
        for (secs, (y, mo, d, h, mi, s)) in table {
            let t = CivilTime::from_unix(secs);
            assert_eq!(
                (t.year, t.month, t.day, t.hour, t.minute, t.second),
                (y, mo, d, h, mi, s),
                "{secs}"
            );
        }
        // Extreme inputs do not panic.
        let _ = CivilTime::from_unix(i64::MAX);
        let _ = CivilTime::from_unix(i64::MIN);
    }

    #[test]
    fn line_layout_matches_seed() {
        let mut s = String::new();
        let id = MessageId::new(Component::Pflg, 110);
        format_line(
            &mut s,
            &CivilTime::from_unix(1_694_158_822),
            &origin(),
            0,
            id,
            Severity::E,
            "Message text",
        );
        assert_eq!(
            s,
            "Sep 8 7:40:22 fw ferrocap[2018.0]: PFLG-110-E Message text"
        );
    }

    #[test]
    fn syslog_layout() {
        let mut s = String::new();
        let id = MessageId::new(Component::Slog, 110);
        format_syslog(
            &mut s,
            &CivilTime::from_unix(1_694_158_822),
            &origin(),
            3,
            id,
            Severity::K,
            "level changed to 6",
        );
        assert_eq!(
            s,
            "<165>Sep  8 07:40:22 fw ferrocap[2018.3]: SLOG-110-K level changed to 6"
        );
    }

    #[test]
    fn message_id_parse() {
        assert_eq!(
            MessageId::parse("PFLG-888"),
            Some(MessageId::new(Component::Pflg, 888))
        );
        assert_eq!(
            MessageId::parse("KERN-100").map(|m| m.to_string()),
            Some("KERN-100".into())
        );
        for bad in [
            "PFLG-88",
            "PFLG-8888",
            "XXXX-100",
            "PFLG100",
            "PFLG-1a0",
            "",
        ] {
            assert_eq!(MessageId::parse(bad), None, "{bad}");
        }
    }
}
