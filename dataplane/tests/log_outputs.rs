//! File and syslog outputs, the envelope, level filtering and the
//! on_failure policies, through a running logger.

use std::fs;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

use ferrocap_dataplane::log::catalog;
use ferrocap_dataplane::log::message::Outcome;
use ferrocap_dataplane::log::message::StatRecord;
use ferrocap_dataplane::log::{
    Component, Level, LogConfig, Logger, OnFailure, OutputKind, Severity,
};
use regex::Regex;

fn file_config(dir: &Path) -> LogConfig {
    LogConfig {
        output: OutputKind::File,
        dir: dir.to_path_buf(),
        host: Some("testhost".into()),
        ..LogConfig::default()
    }
}

fn lines(p: &Path) -> Vec<String> {
    fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn envelope_matches_strict_regex() {
    let dir = tempfile::tempdir().unwrap();
    let (logger, guard) = Logger::start(file_config(dir.path())).unwrap();
    logger.log(
        0,
        catalog::APPL_START,
        &[&"0.1.0", &std::process::id(), &"/etc/ferrocap.toml"],
    );
    logger.log(3, catalog::DPDW_STARTED, &[&3, &4, &"0", &0]);
    logger.config_error(0, 21, 7, "unknown key `levle`");
    guard.shutdown().unwrap();
    let re = Regex::new(&format!(
        r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([1-9]|[12][0-9]|3[01]) ([0-9]|1[0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] testhost ferrocap\[{}\.(0|[1-9][0-9]*)\]: [A-Z]{{4}}-[0-9]{{3}}-[XACEWNKIDTF] \S.*$",
        std::process::id()
    ))
    .unwrap();
    let debug = lines(&dir.path().join("ferrocap-debug"));
    assert_eq!(debug.len(), 3, "{debug:?}");
    for l in &debug {
        assert!(re.is_match(l), "{l}");
    }
    assert!(
        debug[0].contains(".0]: APPL-100-K ferrocap 0.1.0 starting, pid "),
        "{}",
        debug[0]
    );
    assert!(debug[1].ends_with(".3]: DPDW-100-N worker 3 started on lcore 4, port 0 queue 0"));
    assert!(debug[2].ends_with(".0]: CFGP-100-E Line 21, char 7: unknown key `levle`"));
}

#[test]
fn streams_and_levels() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        level: Level::ERROR,
        ..file_config(dir.path())
    };
    let (logger, guard) = Logger::start(cfg).unwrap();
    assert!(!logger.enabled(Severity::W));
    assert!(logger.enabled(Severity::K));
    assert!(logger.enabled(Severity::I));
    logger.log(0, catalog::DPDP_DOWN, &[&"0"]); // W: filtered at level 3
    logger.log(0, catalog::DPDP_CONFIG_FAILED, &[&"0", &"no queues"]); // E
    logger.log(0, catalog::CTLH_LISTENING, &[&"127.0.0.1:8080"]); // N: filtered
    logger.debug(
        1,
        Component::Dpdw,
        900,
        Severity::D,
        format_args!("burst of {}", 32),
    );
    let rec = StatRecord::new("DUMP-STOP")
        .field("NAME", "web")
        .field("PACKETS", 10)
        .finish(Outcome::Accepted);
    logger.stat(0, catalog::PDMP_STOPPED, rec);
    logger.flush();
    assert_eq!(logger.set_level(Level::DEBUG), Level::DEBUG);
    logger.debug(
        1,
        Component::Dpdw,
        900,
        Severity::D,
        format_args!("burst of {}", 64),
    );
    logger.debug(
        1,
        Component::Dpdw,
        901,
        Severity::T,
        format_args!("not at 7"),
    );
    guard.shutdown().unwrap();

    let debug = lines(&dir.path().join("ferrocap-debug"));
    let bodies: Vec<&str> = debug
        .iter()
        .map(|l| l.split("]: ").nth(1).unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            "DPDP-110-E port 0 configuration failed: no queues",
            "SLOG-110-K level changed to 7",
            "DPDW-900-D burst of 64",
        ]
    );
    let stats = lines(&dir.path().join("ferrocap-stats"));
    assert_eq!(stats.len(), 1);
    assert!(stats[0].ends_with("]: PDMP-881-I DUMP-STOP NAME=web PACKETS=10 ACCEPTED"));
    assert_eq!(logger.count(Severity::E), 1);
    assert_eq!(logger.count(Severity::I), 1);
    assert_eq!(logger.count(Severity::K), 1);
    assert_eq!(logger.count(Severity::D), 1);
    assert_eq!(logger.count(Severity::W), 0);
}

#[test]
fn long_stats_records_are_split_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        max_line: 40,
        ..file_config(dir.path())
    };
    let (logger, guard) = Logger::start(cfg).unwrap();
    let mut r = StatRecord::new("SUMMARY");
    for i in 0..10 {
        r.push_field("K", i * 1000);
    }
    let text = r.finish(Outcome::Accepted);
    logger.stat(0, catalog::APPL_SUMMARY, text.clone());
    guard.shutdown().unwrap();
    let stats = lines(&dir.path().join("ferrocap-stats"));
    assert!(stats.len() > 1);
    let bodies: Vec<&str> = stats
        .iter()
        .map(|l| l.split_once("APPL-888-I ").unwrap().1)
        .collect();
    for b in &bodies {
        assert!(b.len() <= 40, "{b}");
    }
    let joined = ferrocap_dataplane::log::split::join(bodies.iter().copied());
    assert_eq!(joined.len(), 1);
    assert_eq!(joined[0].0, text);
}

#[test]
fn syslog_datagrams_reach_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("log.sock");
    let server = UnixDatagram::bind(&sock_path).unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let cfg = LogConfig {
        output: OutputKind::Syslog,
        syslog_path: sock_path.clone(),
        host: Some("fw".into()),
        ident: "capd".into(),
        ..LogConfig::default()
    };
    let (logger, guard) = Logger::start(cfg).unwrap();
    logger.log(2, catalog::DPDP_DOWN, &[&"eth1"]);
    logger.log(0, catalog::SLOG_REOPENED, &[]);
    logger.stat(
        0,
        catalog::PDMP_STARTED,
        "DUMP-START NAME=x ACCEPTED".into(),
    );
    logger.log(0, catalog::KERN_PANIC, &[&"a.rs", &1, &"f", &"t"]);
    guard.shutdown().unwrap();
    let re = Regex::new(&format!(
        r"^<(\d+)>(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123]\d [0-2]\d:[0-5]\d:[0-5]\d fw capd\[{}\.(\d+)\]: ([A-Z]{{4}}-\d{{3}}-[A-Z]) (.*)$",
        std::process::id()
    ))
    .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    for _ in 0..4 {
        let n = server.recv(&mut buf).unwrap();
        let s = String::from_utf8(buf[..n].to_vec()).unwrap();
        let c = re.captures(&s).unwrap_or_else(|| panic!("{s}"));
        got.push((
            c[1].parse::<u32>().unwrap(),
            c[3].to_string(),
            c[4].to_string(),
            c[5].to_string(),
        ));
    }
    let want = [
        (20 * 8 + 4, "2", "DPDP-101-W", "port eth1 link down"),
        (20 * 8 + 5, "0", "SLOG-111-N", "log files reopened"),
        (20 * 8 + 6, "0", "PDMP-880-I", "DUMP-START NAME=x ACCEPTED"),
        (20 * 8 + 2, "0", "KERN-110-C", "**PANIC** [a.rs:1] f(): t"),
    ];
    for (g, w) in got.iter().zip(want) {
        assert_eq!((g.0, g.1.as_str(), g.2.as_str(), g.3.as_str()), w);
    }
}

fn full_device_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/full", dir.path().join("ferrocap-debug")).unwrap();
    dir
}

#[test]
fn on_failure_ignore_counts_errors() {
    let dir = full_device_dir();
    let cfg = LogConfig {
        on_failure: OnFailure::Ignore,
        ..file_config(dir.path())
    };
    let (logger, guard) = Logger::start(cfg).unwrap();
    for i in 0..3 {
        logger.log(0, catalog::DPDP_DOWN, &[&i]);
        logger.flush();
    }
    // Stats still work: only the failing stream is affected.
    logger.stat(0, catalog::PDMP_STARTED, "DUMP-START ACCEPTED".into());
    guard.shutdown().unwrap();
    assert_eq!(logger.write_errors(), 3);
    assert!(logger.fatal_error().is_none());
    assert_eq!(lines(&dir.path().join("ferrocap-stats")).len(), 1);
}

#[test]
fn on_failure_file_switches() {
    let dir = full_device_dir();
    let fallback = dir.path().join("fallback.log");
    let cfg = LogConfig {
        on_failure: OnFailure::File(fallback.clone()),
        ..file_config(dir.path())
    };
    let (logger, guard) = Logger::start(cfg).unwrap();
    logger.log(0, catalog::DPDP_DOWN, &[&"p0"]);
    logger.flush();
    logger.log(0, catalog::DPDP_DOWN, &[&"p1"]);
    guard.shutdown().unwrap();
    let fb = lines(&fallback);
    let bodies: Vec<&str> = fb.iter().map(|l| l.split("]: ").nth(1).unwrap()).collect();
    assert_eq!(bodies.len(), 3, "{fb:?}");
    assert!(
        bodies[0].starts_with("SLOG-101-W log output switched from "),
        "{}",
        bodies[0]
    );
    assert!(bodies[0].ends_with(&format!("to file {}", fallback.display())));
    assert_eq!(bodies[1], "DPDP-101-W port p0 link down");
    assert_eq!(bodies[2], "DPDP-101-W port p1 link down");
}

#[test]
fn on_failure_stop_raises_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        output: OutputKind::Syslog,
        syslog_path: dir.path().join("no-such-socket"),
        on_failure: OnFailure::Stop,
        ..LogConfig::default()
    };
    let (logger, guard) = Logger::start(cfg).unwrap();
    assert!(logger.fatal_error().is_none());
    logger.log(0, catalog::DPDP_DOWN, &[&"p0"]);
    logger.flush();
    let fatal = logger.fatal_error().expect("fatal flag");
    assert!(fatal.contains("no-such-socket"), "{fatal}");
    logger.log(0, catalog::DPDP_DOWN, &[&"p1"]);
    guard.shutdown().unwrap();
    assert_eq!(logger.write_errors(), 2);
}

#[test]
fn syslog_failure_falls_back_to_file() {
    let dir = tempfile::tempdir().unwrap();
    let fallback = dir.path().join("fb.log");
    let cfg = LogConfig {
        output: OutputKind::Syslog,
        syslog_path: dir.path().join("absent.sock"),
        on_failure: OnFailure::File(fallback.clone()),
        ..LogConfig::default()
    };
    let (logger, guard) = Logger::start(cfg).unwrap();
    logger.log(0, catalog::CTLH_LISTENING, &[&"127.0.0.1:9000"]);
    guard.shutdown().unwrap();
    let fb = lines(&fallback);
    assert_eq!(fb.len(), 2, "{fb:?}");
    // The fallback file uses the file layout, not the datagram one.
    assert!(!fb[1].starts_with('<'));
    assert!(fb[1].ends_with("CTLH-100-N control plane listening on 127.0.0.1:9000"));
}

#[test]
fn reopen_follows_logrotate() {
    let dir = tempfile::tempdir().unwrap();
    let (logger, guard) = Logger::start(file_config(dir.path())).unwrap();
    logger.log(0, catalog::DPDP_DOWN, &[&"a"]);
    logger.flush();
    let debug = dir.path().join("ferrocap-debug");
    fs::rename(&debug, dir.path().join("ferrocap-debug.1")).unwrap();
    logger.reopen();
    logger.log(0, catalog::DPDP_DOWN, &[&"b"]);
    guard.shutdown().unwrap();
    let old = lines(&dir.path().join("ferrocap-debug.1"));
    let new = lines(&debug);
    assert_eq!(old.len(), 1);
    assert!(old[0].ends_with("port a link down"));
    assert_eq!(new.len(), 2, "{new:?}");
    assert!(new[0].ends_with("SLOG-111-N log files reopened"));
    assert!(new[1].ends_with("port b link down"));
}

#[test]
fn config_deserializes_with_defaults() {
    let cfg: LogConfig = toml::from_str("").unwrap();
    assert_eq!(cfg, LogConfig::default());
    assert_eq!(cfg.max_line, 1024);
    assert_eq!(cfg.level, Level::NORMAL);
    let cfg: LogConfig = toml::from_str(
        "level = \"debug\"\noutput = \"file\"\ndir = \"/tmp/x\"\non_failure = { file = \"/tmp/fb\" }\nmax_line = 200\nmemory_log_level = 8\n",
    )
    .unwrap();
    assert_eq!(cfg.level, Level::DEBUG);
    assert_eq!(cfg.output, OutputKind::File);
    assert_eq!(cfg.on_failure, OnFailure::File("/tmp/fb".into()));
    assert_eq!(cfg.memory_log_level, Level::TRACE);
    let cfg: LogConfig = toml::from_str("on_failure = \"stop\"\nlevel = 9").unwrap();
    assert_eq!(cfg.on_failure, OnFailure::Stop);
    assert_eq!(cfg.level, Level::FULL);
    let e = toml::from_str::<LogConfig>("levle = 5").unwrap_err();
    assert!(e.to_string().contains("unknown field"), "{e}");
    let e = toml::from_str::<LogConfig>("level = \"info\"").unwrap_err();
    assert!(e.to_string().contains("invalid log level"), "{e}");
    let e = toml::from_str::<LogConfig>("level = 12").unwrap_err();
    assert!(e.to_string().contains("invalid log level"), "{e}");
}

#[test]
fn bad_config_is_refused() {
    for cfg in [
        LogConfig {
            ident: "two words".into(),
            ..LogConfig::default()
        },
        LogConfig {
            queue_len: 0,
            ..LogConfig::default()
        },
    ] {
        let e = Logger::start(cfg).unwrap_err();
        assert!(e.to_string().contains("invalid [log] configuration"), "{e}");
    }
}

#[test]
fn errno_macro_locates_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let (logger, guard) = Logger::start(file_config(dir.path())).unwrap();
    let err = std::io::Error::from_raw_os_error(13);
    let line = line!() + 1;
    ferrocap_dataplane::log_errno!(logger, 2, "open", &err);
    guard.shutdown().unwrap();
    let debug = lines(&dir.path().join("ferrocap-debug"));
    assert_eq!(debug.len(), 1);
    assert!(
        debug[0].ends_with(&format!(
            ".2]: KERN-100-E [log_outputs.rs:{line}] open(): Permission denied (EACCES=13)"
        )),
        "{}",
        debug[0]
    );
}
