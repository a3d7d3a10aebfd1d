//! The message catalog: every non-debug message ferrocap logs, in one table.
//!
//! Each entry has an id (`PFLG-888`), a severity, a printf-style text
//! template (`%s`, `%d`, `%u` stand for values; `%%` is a literal percent
//! sign) and an explanation for the operator: what the message means and
//! what to do. `ferrocap explain ID` prints one entry ([`lookup`]);
//! `docs/messages.md` is [`render_markdown`]'s output, and a test keeps the
//! two equal (`FERROCAP_BLESS=1 cargo test -p ferrocap-dataplane --test
//! log_catalog` rewrites the document).
//!
//! Statistical messages use numbers 800..=899 (Kernun's `888` pages), as do
//! their keywords; debug messages (D/T/F) have no entry.
#![forbid(unsafe_code)]

use std::fmt::{Display, Write as _};

use super::envelope::{Component, MessageId};
use super::level::Severity;

/// One catalog entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogEntry {
    /// The id, `CODE-NNN`.
    pub id: MessageId,
    /// The severity the message is always logged with.
    pub severity: Severity,
    /// The text template; `%s`/`%d`/`%u` are replaced by [`CatalogEntry::render`].
    pub text: &'static str,
    /// What the message means and what the operator should do.
    pub explanation: &'static str,
}

impl CatalogEntry {
    /// The number of `%` placeholders in the template (`%%` excluded).
    pub fn arity(&self) -> usize {
        let mut n = 0;
        let mut it = self.text.chars().peekable();
        while let Some(c) = it.next() {
            if c == '%' {
                match it.next() {
                    Some('%') | None => {}
                    Some(_) => n += 1,
                }
            }
        }
        n
    }

    /// The template with the placeholders replaced by `args` in order;
    /// a missing argument shows as `?`, extra arguments are ignored.
    pub fn render(&self, args: &[&dyn Display]) -> String {
        let mut out = String::with_capacity(self.text.len() + 16 * args.len());
        let mut args = args.iter();
        let mut it = self.text.chars();
        while let Some(c) = it.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match it.next() {
                Some('%') => out.push('%'),
                None => out.push('%'),
                Some(_) => match args.next() {
                    Some(a) => {
                        let _ = write!(out, "{a}");
                    }
                    None => out.push('?'),
                },
            }
        }
        out
    }
}

macro_rules! catalog {
    ($( $name:ident = $comp:ident $num:literal $sev:ident, $text:literal, $expl:literal; )*) => {
        $(
            #[doc = concat!("`", stringify!($num), "`: ", $text)]
            pub const $name: &CatalogEntry = &CatalogEntry {
                id: MessageId::new(Component::$comp, $num),
                severity: Severity::$sev,
                text: $text,
                explanation: $expl,
            };
        )*
        /// Every catalog entry, in catalog order.
        pub static CATALOG: &[&CatalogEntry] = &[$($name),*];
    };
}

catalog! {
    // ---- KERN -----------------------------------------------------------
    KERN_ERRNO = Kern 100 E, "[%s:%u] %s(): %s (%s=%d)",
        "A system call failed in a way that normal operation does not produce. The brackets locate the call in the source (file and line), the name before the parentheses is the system call, then the system's error text, the errno constant and its number. A higher-level message that says what failed and what happens next usually follows; act on that one. Report repeated errno messages together with the line that follows them.";
    KERN_PANIC = Kern 110 C, "**PANIC** [%s:%u] %s(): %s",
        "An internal error that ferrocap does not expect: the program stops at once. The brackets locate the error in the source, the name before the parentheses is the thread (or function) that failed. The memory log of the process is kept for investigation. Report the whole message, the memory log file and the configuration to the developers, then restart the service.";
    // ---- APPL -----------------------------------------------------------
    APPL_START = Appl 100 K, "ferrocap %s starting, pid %u, config %s",
        "The main program has started with the given version and configuration file. No action is needed.";
    APPL_STOP = Appl 101 K, "ferrocap stopping (%s)",
        "The main program is stopping for the reason given (a signal, a request from the control plane, or a fatal error). Receiving stops, the rings are drained and every dump is flushed and closed. A summary follows.";
    APPL_STOPPED = Appl 102 K, "ferrocap stopped after %s: %u packets received, %u matched, %u written, %u dropped",
        "The final summary of a run. For every output the matched packets are either written or dropped; when the dropped count is not zero, look at the drop reasons in the metrics or in the APPL-888 record (the disk, the rings or the log queue were too slow).";
    APPL_FATAL = Appl 110 C, "fatal error, exiting: %s",
        "ferrocap cannot go on and exits with a non-zero status. The text names the cause; the preceding messages give the details. The memory log of the process is kept. Fix the cause and restart the service.";
    APPL_SIGNAL = Appl 120 N, "signal %s received: %s",
        "A signal was received and is being acted on as described (stop, reopen the log files, change the logging level). No action is needed.";
    APPL_SUMMARY = Appl 888 I, "SUMMARY DURATION=%u RX=%u MATCHED=%u WRITTEN=%u DROPPED=%u %s",
        "Statistical record written once when ferrocap stops: run time in seconds and the packet counters summed over all workers and outputs. RX = unmatched + matched for every worker, MATCHED = WRITTEN + DROPPED for every output. Ends with ACCEPTED when nothing was dropped and FAILED otherwise.";
    // ---- CFGP -----------------------------------------------------------
    CFGP_SYNTAX = Cfgp 100 E, "Line %u, char %u: %s",
        "The configuration file has a syntax or type error at the given line and character. The rest of the text says what was expected. A running ferrocap keeps its current configuration; at start-up ferrocap exits. Correct the file (`ferrocap --check-config` shows all errors) and try again.";
    CFGP_INVALID = Cfgp 101 E, "%s: %s",
        "A configuration item is well-formed but its value is not acceptable (an unknown interface name, a cycle in IP groups, a duplicate dump name). The first part is the path of the item in the configuration. Correct the item and reload.";
    CFGP_FAILED = Cfgp 102 C, "configuration %s failed, exiting",
        "The configuration could not be read at start-up; the preceding CFGP messages give the reasons. ferrocap exits. Correct the file and start it again.";
    CFGP_LOADED = Cfgp 110 N, "configuration %s loaded",
        "The configuration file was read and checked without errors and is now in use. No action is needed.";
    // ---- SLOG -----------------------------------------------------------
    SLOG_WRITE_FAILED = Slog 100 E, "writing to log output %s failed: %s (on_failure = %s)",
        "A log record could not be written to the syslog socket or the log file (a full disk, a missing syslog daemon, a removed directory). What happens next depends on the `on_failure` policy shown: `ignore` drops the record and keeps trying, `file` switches to the fallback file, `stop` asks ferrocap to stop. Fix the output (free disk space, start the syslog daemon).";
    SLOG_SWITCHED = Slog 101 W, "log output switched from %s to file %s",
        "The `on_failure = file` policy took effect after a write failure: from now on all log records go to the named file. Fix the original output, then send SIGHUP or restart ferrocap to return to it.";
    SLOG_STOP = Slog 102 C, "log output %s failed, stopping (on_failure = stop)",
        "Writing the log failed and the policy says ferrocap must not run without a log. ferrocap stops cleanly. Fix the output, then start it again.";
    SLOG_LEVEL = Slog 110 K, "level changed to %u",
        "The logging level was changed at run time, by SIGUSR1 (one step up) or SIGUSR2 (one step down), or through the control plane. Levels run from 3 (error) to 9 (full). Lower the level again after troubleshooting: levels 7 to 9 produce a lot of output.";
    SLOG_REOPENED = Slog 111 N, "log files reopened",
        "The log files were closed and opened again (SIGHUP, usually sent by logrotate). No action is needed.";
    SLOG_DROPPED = Slog 120 W, "%u log records dropped, queue full (%u in total)",
        "Workers produced log records faster than the logger thread could write them, and records that did not fit in the queue were dropped and counted. Lower the logging level, write to a faster output, or enlarge `[log] queue_len`.";
    SLOG_MEMLOG = Slog 130 W, "memory log %s not available: %s",
        "The memory log file could not be created or mapped. Logging to syslog or files goes on without it. Check that the directory exists and is writable and has room for `memory_log_size` bytes.";
    // ---- MONI -----------------------------------------------------------
    MONI_STALLED = Moni 100 W, "worker %u made no progress for %u s",
        "A worker thread did not report progress in the given time: it may be stuck or starved of CPU. Check the CPU pinning and the load of the machine; if it persists, restart ferrocap and report the memory log.";
    MONI_COUNTERS = Moni 888 I, "COUNTERS WORKER=%u RX=%u MATCHED=%u DROPPED=%u %s",
        "Statistical record with a worker's counters, written periodically. RX = unmatched + matched. Used by the statistics reports; no action is needed.";
    // ---- PFLG -----------------------------------------------------------
    PFLG_STARTED = Pflg 100 N, "packet log %s started, expression %s",
        "A packet log rule became active with the given expression. Every packet that matches it is logged as a PFLG-888 record.";
    PFLG_STOPPED = Pflg 101 N, "packet log %s stopped: %u packets logged, %u dropped",
        "A packet log rule was removed or ferrocap is stopping. The counters give the records written and the matching packets that were not logged: dropped at a full ring, or at a full log queue.";
    PFLG_DROPPED = Pflg 110 W, "packet log %s: %u records dropped (%s)",
        "Matching packets could not be logged for the reason given (usually the log queue was full: packets match faster than records can be written). Capture goes on. Narrow the expression, or use a packet dump for heavy traffic.";
    PFLG_PACKET = Pflg 888 I, "PACKET DIR=%s IF=%s PROTO=%s LEN=%u SRC=%s DST=%s [FLAGS=%s] TS=%s ACCEPTED",
        "Statistical record of one logged packet: direction (in, out, unknown), capture interface, protocol (TCP, UDP, ICMP, ICMPv6 or the IP protocol number), frame length in bytes, source and destination address with port (IPv6 addresses in brackets), TCP flags (TCP only, comma-separated) and the capture time stamp as seconds.microseconds since the epoch. `ferrocap stats` reads these records.";
    // ---- EXPR -----------------------------------------------------------
    EXPR_SET = Expr 100 N, "expression %s set: %s",
        "A filter expression was compiled and is now in use by the workers. Capture went on during the change.";
    EXPR_REMOVED = Expr 101 N, "expression %s removed",
        "A filter expression was removed; the rule it belonged to matches nothing any more.";
    EXPR_ERROR = Expr 110 E, "expression %s rejected: Line %u, char %u: %s",
        "A new expression could not be compiled. The position and the expected tokens locate the error. Nothing running is disturbed: a live capture keeps its previous expression. Correct the expression and submit it again.";
    EXPR_CHECK = Expr 120 W, "expression %s: %s",
        "The expression compiles, but part of it probably does not mean what was intended (for example `port >= 137 & port <= 139` can match a packet whose two ports each satisfy one side; `port = 137-139` is the range form). Review the expression.";
    // ---- PDMP -----------------------------------------------------------
    PDMP_WRITE_ERROR = Pdmp 110 E, "dump %s: writing %s failed: %s; dump stopped",
        "A packet dump file could not be written (a full disk, a removed directory, an I/O error). Only this dump stops; capture and the other outputs go on, and the metrics show the failure. The file holds whole records up to the last successful flush. Free space or fix the directory, then start the dump again.";
    PDMP_STARTED = Pdmp 880 I, "DUMP-START NAME=%s FILE=%s FORMAT=%s EXPR=%s %s",
        "Statistical record: a packet dump started writing the named file in the given format (pcap or pcapng) with the given expression. Ends with ACCEPTED, or FAILED when the file could not be created.";
    PDMP_STOPPED = Pdmp 881 I, "DUMP-STOP NAME=%s FILE=%s PACKETS=%u BYTES=%u DROPPED=%u %s",
        "Statistical record: a packet dump closed its file. PACKETS and BYTES count what was written, DROPPED what matched but could not be written (full rings or a failing disk). ACCEPTED when the dump ended normally, FAILED after a write error.";
    PDMP_ROTATED = Pdmp 882 I, "DUMP-ROTATE NAME=%s FILE=%s NEXT=%s PACKETS=%u BYTES=%u %s",
        "Statistical record: a packet dump reached its size or time limit, closed FILE (with the given counters) and went on in NEXT.";
    // ---- DPDx -----------------------------------------------------------
    DPDE_INIT_FAILED = Dpde 100 C, "DPDK EAL initialisation failed: %s",
        "The DPDK environment could not start: hugepages missing, the NIC not bound to a DPDK driver, another process using the same file prefix, or bad EAL arguments. ferrocap exits. Run the setup script in deploy/, check `dpdk-devbind.py --status` and the EAL arguments, then start again.";
    DPDE_INIT = Dpde 101 N, "DPDK EAL initialised: %u lcores, %u ports",
        "The DPDK environment started with the given numbers of cores and ports. No action is needed.";
    DPDP_UP = Dpdp 100 N, "port %s link up, %u Mbps %s",
        "The link of a capture port came up with the given speed and duplex. No action is needed.";
    DPDP_DOWN = Dpdp 101 W, "port %s link down",
        "The link of a capture port went down: nothing is captured on it until it comes back. Check the cable, the TAP or the SPAN configuration of the switch.";
    DPDP_CONFIG_FAILED = Dpdp 110 E, "port %s configuration failed: %s",
        "A DPDK port could not be configured or started (queues, mempool, promiscuous mode). ferrocap exits at start-up. Check the port name or id in the configuration and the driver binding.";
    DPDW_STARTED = Dpdw 100 N, "worker %u started on lcore %u, port %s queue %u",
        "A poll-mode worker started on its core and reads the given NIC queue. No action is needed.";
    DPDW_STOPPED = Dpdw 101 N, "worker %u stopped: %u packets received, %u matched",
        "A worker stopped (ferrocap is stopping). The counters are the worker's totals.";
    // ---- CTLx -----------------------------------------------------------
    CTLH_LISTENING = Ctlh 100 N, "control plane listening on %s",
        "The HTTP control plane (API, metrics, web page) accepts connections on the given address. It binds to 127.0.0.1 by default.";
    CTLH_BIND_FAILED = Ctlh 110 E, "control plane cannot listen on %s: %s",
        "The control plane could not bind its address (already in use, not a local address, no permission). Capture goes on without the control plane. Choose another address or stop the other program.";
    CTLH_STOPPED = Ctlh 101 N, "control plane on %s stopped",
        "The HTTP control plane stopped accepting connections because ferrocap is stopping. No action is needed.";
    CTLH_REFUSED = Ctlh 120 W, "request %s %s from %s refused: %s",
        "A control-plane request was refused (a missing or wrong token on a mutating endpoint, or a bad request). Repeated refusals from an unknown address may be an attack.";
    CTLH_CHANGED = Ctlh 130 N, "control plane change: %s: %s",
        "The capture was changed through the control plane's API (packet-logging expression set or cancelled, dump created, started, stopped or deleted, user table replaced). Capture went on during the change and no packet was counted twice or lost from the accounting. No action is needed; this is the audit trail of API changes.";
    CTLM_LISTENING = Ctlm 100 N, "metrics served at %s",
        "Prometheus metrics are available at the given URL. No action is needed.";
}

/// The catalog entry for an id like `PFLG-888` (a trailing `-S` severity
/// is accepted and ignored, so a whole `PFLG-888-I` works too).
pub fn lookup(id: &str) -> Option<&'static CatalogEntry> {
    let id = id.trim();
    let base = match id.len() {
        10 if id.as_bytes().get(8) == Some(&b'-') => id.get(..8)?,
        _ => id,
    };
    let wanted = MessageId::parse(&base.to_ascii_uppercase())?;
    CATALOG.iter().copied().find(|e| e.id == wanted)
}

/// The catalog as a Markdown document (the content of `docs/messages.md`).
pub fn render_markdown() -> String {
    let mut out = String::new();
    out.push_str("# ferrocap log messages\n\n");
    out.push_str(
        "<!-- Generated from dataplane/src/log/catalog.rs by `log::catalog::render_markdown()`.\n     \
         Do not edit: run `FERROCAP_BLESS=1 cargo test -p ferrocap-dataplane --test log_catalog`. -->\n\n",
    );
    out.push_str(
        "Every message has the form `Mon D H:MM:SS HOST ferrocap[PID.N]: CODE-NNN-S text`, where \
         `.0` is the main program and `.N` a worker or track, `CODE-NNN` is the id below and `S` \
         the severity: X (0) A (1) C (2) E (3) W (4) N (5) K (5, always logged) I (6, statistical, \
         always written to the stats log) D (7) T (8) F (9). `%s`, `%u` and `%d` stand for values. \
         Debugging messages (D, T, F) are not listed.\n",
    );
    for comp in Component::ALL {
        let entries: Vec<_> = CATALOG.iter().filter(|e| e.id.component == comp).collect();
        if entries.is_empty() {
            continue;
        }
        let _ = write!(out, "\n## {} — {}\n", comp.code(), comp.description());
        for e in entries {
            let _ = write!(
                out,
                "\n### {}-{}\n\n`{}`\n\n{}\n",
                e.id, e.severity, e.text, e.explanation
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_unique_and_non_debug() {
        let mut seen = HashSet::new();
        for e in CATALOG {
            assert!(seen.insert(e.id), "duplicate {}", e.id);
            assert!(!e.severity.is_debug(), "{} is a debug message", e.id);
            assert!(e.number_ok(), "{}", e.id);
            assert!(!e.explanation.is_empty(), "{}", e.id);
            // Statistical messages live in 800..=899 and vice versa.
            assert_eq!(
                e.severity == Severity::I,
                (800..900).contains(&e.id.number),
                "{}",
                e.id
            );
        }
    }

    impl CatalogEntry {
        fn number_ok(&self) -> bool {
            self.id.number <= 999
        }
    }

    #[test]
    fn render_and_arity() {
        assert_eq!(SLOG_LEVEL.arity(), 1);
        assert_eq!(SLOG_LEVEL.render(&[&7]), "level changed to 7");
        assert_eq!(KERN_ERRNO.arity(), 6);
        assert_eq!(
            KERN_ERRNO.render(&[
                &"log.rs",
                &97,
                &"open",
                &"Permission denied",
                &"EACCES",
                &13
            ]),
            "[log.rs:97] open(): Permission denied (EACCES=13)"
        );
        assert_eq!(CFGP_SYNTAX.render(&[&21]), "Line 21, char ?: ?");
        let e = CatalogEntry {
            id: MessageId::new(Component::Kern, 1),
            severity: Severity::N,
            text: "100%% %s%",
            explanation: "",
        };
        assert_eq!(e.arity(), 1);
        assert_eq!(e.render(&[&"done", &"extra"]), "100% done%");
    }

    #[test]
    fn lookups() {
        assert_eq!(lookup("PFLG-888").map(|e| e.severity), Some(Severity::I));
        assert_eq!(lookup("pflg-888-I").map(|e| e.id), Some(PFLG_PACKET.id));
        assert_eq!(lookup("KERN-100").map(|e| e.text), Some(KERN_ERRNO.text));
        assert_eq!(lookup("SLOG-110").map(|e| e.severity), Some(Severity::K));
        assert!(lookup("PFLG-999").is_none());
        assert!(lookup("nonsense").is_none());
        assert!(lookup("").is_none());
    }
}
