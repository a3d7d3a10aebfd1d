//! The `ferrocap` command line: argument parsing and dispatch.
//!
//! Exit codes: 0 success, 1 runtime failure (I/O, a bad capture file),
//! 2 bad usage, a bad expression or a bad config file.

mod applog;
mod capture;
mod check;
mod config;
mod logtools;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// ferrocap — a packet capture appliance with Kerio-style filter expressions.
#[derive(Debug, Parser)]
#[command(
    name = "ferrocap",
    version,
    about = "Packet capture appliance: Kerio-style filter expressions, pcap/pcapng dumps, Kernun logs",
    after_help = "EXPRESSIONS (Kerio packet-logging syntax):\n  \
  any                                   every IPv4/IPv6 packet\n  \
  addr|saddr|daddr = 10.0.0.1 | 10.0.0.0/8 | 10.0.0.0/255.0.0.0 | 10.0.0.1-10.0.0.9\n  \
                   | 2001:db8::1 | 2001:db8::/32 | list:\"GROUP\" | user:\"alice,[admins]\"\n  \
  port|sport|dport = != < <= > >= N     and the range form  port = 137-139\n  \
  if|iif|oif = \"NAME\" | vpn | vpnclient | vpn:\"NAME\"\n  \
  direc = in | out\n  \
  tcpfl = SYN +ACK -RST | ALL | NONE\n  \
  & binds tighter than |, both left to right; parentheses group.\n\n\
EXAMPLES:\n  \
  ferrocap check 'if = \"Internet\" & (port = 137-139 | port = 445)'\n  \
  ferrocap capture -r in.pcapng -w smb.pcapng 'port = 137-139 | port = 445'\n  \
  ferrocap capture -r in.pcap -w syn.pcap --interface Internet --direction in 'direc = in & tcpfl = SYN'\n  \
  ferrocap -d 7 capture -r in.pcapng --packet-log 'dport = 53' --log-dir /var/log/ferrocap\n  \
  ferrocap stats /var/log/ferrocap/ferrocap-stats --html report.html"
)]
struct Cli {
    /// Logging level 3..9 or error|warning|normal|debug|trace|full; overrides `[log] level`.
    /// At run time SIGUSR1 raises it by one and SIGUSR2 lowers it by one.
    #[arg(short = 'd', long = "debug-level", value_name = "N", global = true)]
    debug_level: Option<ferrocap_dataplane::log::Level>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check an expression: print its normalized form and compiled plan, or the error.
    ///
    /// Exit 0 when the expression compiles (warnings are printed too), 2 when it
    /// does not. With --config, interface, group and user names resolve against
    /// that file.
    Check(check::CheckArgs),
    /// Capture from a pcap/pcapng file (-r), or live through DPDK (--eal); dump and/or log matches.
    ///
    /// Live: `--eal 'EAL ARGS' -w OUT [-c COUNT] [--duration SECS] EXPR` captures
    /// from every DPDK port the EAL arguments create (a NIC bound to vfio-pci,
    /// or a vdev such as net_pcap0,rx_pcap=FILE) and shows progress on a terminal.
    ///
    /// Two independent outputs, each with its own expression: the dump
    /// (`-w OUT EXPR`) writes the packets EXPR matches; packet logging
    /// (`--packet-log EXPR`, or `[packet_logging] expression` from --config)
    /// logs each packet it matches as one PFLG-888-I record in the stats log
    /// (`DIR/ferrocap-stats` with --log-dir, else the `[log]` output, else
    /// syslog). At least one of the two is needed.
    ///
    /// Reads pcap (microsecond and nanosecond) and pcapng, from a file, pipe or
    /// FIFO. In pcapng input the interface description's if_name names the
    /// packet's interface (`iif`) and the enhanced packet block's flags give its
    /// direction; for plain pcap use --interface and --direction. A summary goes
    /// to stderr. SIGUSR1/SIGUSR2 raise/lower the log level, SIGHUP reopens the
    /// log files.
    ///
    /// Every core works: a large pcap written to a pcap dump is matched in
    /// chunks in parallel (the output keeps the input's order), and several
    /// -r inputs are filtered at once, e.g.
    /// `ferrocap capture -r a.pcap -r b.pcapng -w filtered/ 'port = 445'`.
    Capture(capture::CaptureArgs),
    /// Explain a log message id, e.g. `ferrocap explain PFLG-888`.
    Explain(logtools::ExplainArgs),
    /// Statistics from stats logs: totals, top talkers, protocols, ports, interfaces, timeline.
    Stats(logtools::StatsArgs),
    /// Run the appliance from a config file until SIGTERM/SIGINT or --duration.
    ///
    /// Starts logging ([log]; default: files under ./run), DPDK ([eal] args plus
    /// a --vdev per [[port]] vdev), one worker per RX queue on its own worker
    /// lcore, and every [[dump]] with start = true and the packet-logging
    /// expression. On exit the rings are drained, every dump is closed valid,
    /// and a summary is logged and printed to stderr (last line:
    /// `ferrocap-summary {JSON}`). Exit 0 on a clean stop, 1 on a runtime
    /// failure, 2 for a bad config.
    Run(run::RunArgs),
    /// Print the ferrocap(8) manual page (roff) to stdout.
    ///
    /// `ferrocap man | man -l -` shows it; deploy/ferrocap.8 is this output.
    #[command(hide = true)]
    Man,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A write past a file-size limit (`ulimit -f`) then fails with EFBIG,
    // which every output handles as a write error (that output stops, the
    // rest go on), instead of SIGXFSZ ending the whole process.
    let _ = signal_hook::flag::register(
        signal_hook::consts::SIGXFSZ,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    );
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Capture(args) => capture::run(&args, cli.debug_level),
        Command::Explain(args) => logtools::explain(&args),
        Command::Stats(args) => logtools::stats(&args),
        Command::Run(args) => run::run(&args),
        Command::Man => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            match out
                .write_all(man_page().as_bytes())
                .and_then(|()| out.flush())
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ferrocap: writing the manual page: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Sections of ferrocap(8) that the CLI definition does not hold. Written
/// by hand in roff: no line starts with `.` or `'` except a request.
const MAN_TAIL: &str = r#".SH SIGNALS
.TP
\fBSIGTERM\fR, \fBSIGINT\fR
Stop receiving, drain the rings, close every dump (each file stays valid for
tshark), log a summary and exit 0.
.TP
\fBSIGHUP\fR
Reopen the log files (\fIferrocap\-stats\fR, \fIferrocap\-debug\fR), for
logrotate. The systemd unit's \fBExecReload\fR sends it.
.TP
\fBSIGUSR1\fR, \fBSIGUSR2\fR
Raise or lower the logging level by one step, within 3..9.
.SH FILES
.TP
\fI/etc/ferrocap/ferrocap.toml\fR
The configuration the systemd unit runs (\fBferrocap run \-\-config\fR).
Check it with \fBferrocap run \-\-config FILE \-\-check\-config\fR.
.TP
\fI/var/log/ferrocap/ferrocap\-stats\fR, \fI/var/log/ferrocap/ferrocap\-debug\fR
The Kernun logs with \fB[log] output = "file"\fR: statistical records
(packet logging, PFLG\-888\-I) and everything else.
.TP
\fI/var/lib/ferrocap/\fR
The unit's state directory: dumps and the memory log
(\fB[log] memory_log_path\fR), kept after a failure.
.TP
\fIhttp://127.0.0.1:9700/metrics\fR
Prometheus metrics; the web page and the HTTP API are on the same
\fB[control] bind\fR address.
.SH EXIT STATUS
0 on success or a clean stop, 1 on a runtime failure (I/O, DPDK, a bad
capture file), 2 on bad usage, a bad expression or a bad config file.
.SH SEE ALSO
\fBtshark\fR(1), \fBdpdk\-devbind.py\fR(8), \fBlogrotate\fR(8),
\fBsystemd.exec\fR(5); \fIdocs/deployment.md\fR and \fIdocs/messages.md\fR
in the source tree.
"#;

/// The ferrocap(8) manual page: the global synopsis and options, then every
/// visible subcommand with its synopsis, description and options, then the
/// expression syntax and examples (the top-level after-help, unfilled),
/// signals, files and exit status.
fn man_page() -> String {
    let cmd = Cli::command().name("ferrocap").bin_name("ferrocap");
    let mut page = Vec::new();
    let top = clap_mangen::Man::new(cmd.clone())
        .title("FERROCAP")
        .section("8")
        .manual("System Administration");
    // Writing into a Vec cannot fail.
    let mut title = Vec::new();
    let _ = top.render_title(&mut title);
    // The roff crate drops an empty date argument, which shifts the footer
    // fields; write the .TH line with an explicit empty date.
    for line in String::from_utf8_lossy(&title).lines() {
        let th = format!(
            ".TH FERROCAP 8 \"\" \"ferrocap {}\" \"System Administration\"",
            env!("CARGO_PKG_VERSION")
        );
        let line = if line.starts_with(".TH ") {
            th.as_str()
        } else {
            line
        };
        page.extend_from_slice(line.as_bytes());
        page.push(b'\n');
    }
    let _ = top.render_name_section(&mut page);
    let _ = top.render_synopsis_section(&mut page);
    let _ = top.render_description_section(&mut page);
    let _ = top.render_options_section(&mut page);
    page.extend_from_slice(b".SH COMMANDS\n");
    let mut subs: Vec<&clap::Command> =
        cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect();
    subs.sort_by_key(|s| s.get_name());
    for sub in subs {
        let full = format!("ferrocap {}", sub.get_name());
        page.extend_from_slice(format!(".SS \"{full}\"\n").as_bytes());
        let man = clap_mangen::Man::new(sub.clone().bin_name(&full)).section("8");
        let mut part = Vec::new();
        let _ = man.render_synopsis_section(&mut part);
        let _ = man.render_description_section(&mut part);
        let _ = man.render_options_section(&mut part);
        // The sub-page's own .SH headings would end the COMMANDS section.
        for line in String::from_utf8_lossy(&part).lines() {
            let line = if line.starts_with(".SH ") {
                ".PP"
            } else {
                line
            };
            page.extend_from_slice(line.as_bytes());
            page.push(b'\n');
        }
    }
    let mut extra = Vec::new();
    let _ = top.render_extra_section(&mut extra);
    page.extend_from_slice(b".SH \"EXPRESSIONS AND EXAMPLES\"\n.nf\n");
    for line in String::from_utf8_lossy(&extra)
        .lines()
        .filter(|l| !l.starts_with(".SH "))
    {
        page.extend_from_slice(line.as_bytes());
        page.push(b'\n');
    }
    page.extend_from_slice(b".fi\n");
    page.extend_from_slice(MAN_TAIL.as_bytes());
    let _ = top.render_version_section(&mut page);
    String::from_utf8_lossy(&page).into_owned()
}

/// Loads `--config FILE` if given, printing the error and returning exit code 2 if
/// it is bad.
fn load_config(path: Option<&PathBuf>) -> Result<Option<config::Loaded>, ExitCode> {
    let Some(path) = path else { return Ok(None) };
    match config::Config::load(path) {
        Ok(l) => Ok(Some(l)),
        Err(e) => {
            eprintln!("ferrocap: {e}");
            Err(ExitCode::from(2))
        }
    }
}
