//! `source::dpdk` over DPDK's virtual devices (`net_pcap`, `net_null`), no NIC
//! and no hugepages needed.
//!
//! DPDK's EAL starts once per process, so each test re-runs this test binary
//! as a child process that runs only that test with `FERROCAP_DPDK_EAL` set
//! to the EAL arguments (with a unique `--file-prefix`). The child does the
//! DPDK work and prints `dpdk-result key=value …`; the parent checks the values.
#![cfg(feature = "dpdk")]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferrocap_dataplane::source::dpdk::{
    DpdkError, Eal, LcoreId, MbufBurst, Mempool, Port, PortConfig,
};
use ferrocap_dataplane::source::{Burst, PacketSource};

const EAL_ENV: &str = "FERROCAP_DPDK_EAL";
const SEP: char = '\u{1f}';

/// Runs test `name` in a child process with EAL arguments `-l 0-1 …` plus
/// `extra`, and returns the `dpdk-result` line's key=value pairs.
fn run_child(name: &str, extra: &[&str]) -> BTreeMap<String, String> {
    let prefix = format!("ferrocap-test-{}-{name}", std::process::id());
    let mut eal: Vec<String> = [
        "-l",
        "0-1",
        "--no-huge",
        "-m",
        "256",
        "--no-pci",
        "--no-telemetry",
        "--no-shconf",
        "--log-level=lib.eal:warning",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    eal.push(format!("--file-prefix={prefix}"));
    eal.extend(extra.iter().map(|s| s.to_string()));
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(EAL_ENV, eal.join(&SEP.to_string()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child test");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match child.try_wait().expect("wait for child") {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                panic!("child test {name} did not finish in time");
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let out = child.wait_with_output().expect("child output");
    // The EAL leaves an empty runtime directory per file prefix, even with
    // --no-shconf; remove it (remove_dir only removes empty directories).
    let runtime_dirs = [
        std::env::var_os("XDG_RUNTIME_DIR").map(|d| Path::new(&d).join("dpdk")),
        Some(Path::new("/var/run/dpdk").to_path_buf()),
        Some(std::env::temp_dir().join("dpdk")),
    ];
    for dir in runtime_dirs.into_iter().flatten() {
        let _ = std::fs::remove_dir(dir.join(&prefix));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child {name} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("dpdk-result ").map(|(_, kv)| kv))
        .unwrap_or_else(|| panic!("child {name} printed no result:\n{stdout}\n{stderr}"));
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The EAL arguments when running as a child, `None` in the parent.
fn child_eal_args() -> Option<Vec<String>> {
    let raw = std::env::var(EAL_ENV).ok()?;
    Some(raw.split(SEP).map(str::to_owned).collect())
}

fn get(result: &BTreeMap<String, String>, key: &str) -> u64 {
    result
        .get(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no numeric {key} in {result:?}"))
}

fn fnv1a(hash: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *hash ^= u64::from(b);
        *hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// A frame of `len` bytes: Ethernet + IPv4 + UDP with a payload that
/// depends on `seq`.
fn frame(seq: u32, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..12].copy_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip_len = u16::try_from(len - 14).unwrap_or(u16::MAX);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&ip_len.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[10, 0, 0, 1]);
    f[30..34].copy_from_slice(&[10, 1, 0, 2]);
    for (i, b) in f.iter_mut().enumerate().skip(42) {
        *b = (seq as usize).wrapping_mul(31).wrapping_add(i) as u8;
    }
    f
}

/// Writes a classic pcap (microsecond, Ethernet) holding `frames`.
fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        let len = u32::try_from(f.len()).expect("frame fits u32");
        out.extend_from_slice(&(1_700_000_000u32).to_le_bytes());
        out.extend_from_slice(&(u32::try_from(i).unwrap_or(0) % 1_000_000).to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(f);
    }
    std::fs::File::create(path)
        .and_then(|mut file| file.write_all(&out))
        .expect("write pcap");
}

/// Largest frame that fits one mbuf of the children's pools.
const SEG: usize = 2048;

#[test]
fn pcap_replay_receives_every_record_once() {
    if let Some(eal) = child_eal_args() {
        return child_count_replay(&eal);
    }
    // Sizes cycle through small, odd, full-size and three jumbo frames,
    // which net_pcap delivers as multi-segment mbufs.
    let sizes = [60usize, 61, 64, 128, 333, 576, 1024, 1500, 1514];
    let mut frames: Vec<Vec<u8>> = (0..997u32)
        .map(|i| frame(i, sizes[i as usize % sizes.len()]))
        .collect();
    for (i, len) in [3000usize, 4000, 9000].into_iter().enumerate() {
        frames.push(frame(5000 + i as u32, len));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("replay.pcap");
    write_pcap(&file, &frames);

    let vdev = format!("--vdev=net_pcap0,rx_pcap={}", file.display());
    let result = run_child("pcap_replay_receives_every_record_once", &[&vdev]);

    let mut hash = FNV_START;
    for f in frames.iter().filter(|f| f.len() <= SEG) {
        fnv1a(&mut hash, f);
    }
    let wire_bytes: u64 = frames.iter().map(|f| f.len() as u64).sum();
    let jumbo = frames.iter().filter(|f| f.len() > SEG).count() as u64;
    assert_eq!(get(&result, "packets"), frames.len() as u64);
    assert_eq!(get(&result, "orig_bytes"), wire_bytes);
    assert_eq!(get(&result, "multi_segment"), jumbo);
    assert_eq!(get(&result, "single_seg_hash"), hash);
    assert_eq!(get(&result, "ipackets"), frames.len() as u64);
    assert_eq!(get(&result, "worker_lcore"), 1);
    assert_eq!(get(&result, "main_lcore"), 0);
    assert_eq!(get(&result, "in_use_after"), 0);
}

fn child_count_replay(eal_args: &[String]) {
    let eal = Eal::init(eal_args).expect("EAL init");
    let port_id = eal.port_by_name("net_pcap0").expect("net_pcap0 exists");
    let pool = Mempool::new(&eal, "replay", 4095, 128, (SEG + 128) as u16, None).expect("pool");
    let mut port = Port::configure(port_id, &PortConfig::default(), &pool).expect("configure");
    port.start().expect("start");
    let mut queue = port.rx_queue(0).expect("queue 0");

    let ((), exits) = eal.scope(|s| {
        let worker = s.launch(LcoreId(1), || {
            let lcore = LcoreId::current().map_or(u32::MAX, |l| l.0);
            let mut burst: MbufBurst<'_> = queue.new_burst();
            let (mut packets, mut orig_bytes, mut hash) = (0u64, 0u64, FNV_START);
            let mut last_rx = Instant::now();
            let start = Instant::now();
            // net_pcap without infinite_rx goes quiet at the end of the file.
            loop {
                let n = queue.recv_burst(&mut burst).expect("DPDK never fails");
                if n == 0 {
                    let quiet = last_rx.elapsed() > Duration::from_millis(300);
                    if (packets > 0 && quiet) || start.elapsed() > Duration::from_secs(30) {
                        break;
                    }
                    continue;
                }
                last_rx = Instant::now();
                for p in burst.iter() {
                    packets += 1;
                    orig_bytes += u64::from(p.meta.orig_len);
                    assert_eq!(p.meta.port, port_id);
                    assert_eq!(p.meta.queue, 0);
                    assert!(p.meta.timestamp_ns > 0);
                    if p.meta.orig_len as usize == p.data.len() {
                        fnv1a(&mut hash, p.data);
                    } else {
                        assert_eq!(p.data.len(), SEG, "first segment fills the mbuf");
                    }
                }
            }
            burst.release();
            let multi = burst.multi_segment();
            if let Ok(mut slot) = SUMMARY.lock() {
                *slot = Some((packets, orig_bytes, hash, multi, lcore));
            }
            0
        });
        worker.expect("launch on lcore 1");
    });
    // The scope has waited for the worker.
    let summary = SUMMARY.lock().ok().and_then(|s| *s);
    assert_eq!(exits.len(), 1);
    assert_eq!(exits[0].result.as_ref().ok(), Some(&0));
    let (packets, orig_bytes, hash, multi, lcore) = summary.expect("worker summary");
    let stats = port.stats().expect("stats");
    let main = LcoreId::current().map_or(u32::MAX, |l| l.0);
    println!(
        "dpdk-result packets={packets} orig_bytes={orig_bytes} single_seg_hash={hash} \
         multi_segment={multi} ipackets={} worker_lcore={lcore} main_lcore={main} in_use_after={}",
        stats.ipackets,
        pool.in_use()
    );
}

type Summary = (u64, u64, u64, u64, u32);
static SUMMARY: std::sync::Mutex<Option<Summary>> = std::sync::Mutex::new(None);

#[test]
fn eal_ports_and_queues_are_exclusive() {
    if let Some(eal) = child_eal_args() {
        return child_exclusive(&eal);
    }
    let result = run_child("eal_ports_and_queues_are_exclusive", &["--vdev=net_null0"]);
    assert_eq!(result.get("checks").map(String::as_str), Some("ok"));
    assert_eq!(get(&result, "ports"), 1);
    assert_eq!(get(&result, "workers"), 1);
}

fn child_exclusive(eal_args: &[String]) {
    let eal = Eal::init(eal_args).expect("EAL init");
    assert!(matches!(
        Eal::init(eal_args),
        Err(DpdkError::AlreadyInitialized)
    ));
    let ports: Vec<_> = eal.ports().collect();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0].name, "net_null0");
    assert_eq!(eal.port_by_name("net_null0").ok(), Some(ports[0].id));
    assert!(matches!(
        eal.port_by_name("net_nope9"),
        Err(DpdkError::NoSuchPort(_))
    ));
    let workers: Vec<_> = eal.worker_lcores().collect();
    assert_eq!(workers, vec![LcoreId(1)]);
    assert_eq!(eal.main_lcore(), LcoreId(0));

    let pool = Mempool::new(&eal, "excl", 4095, 128, 2176, None).expect("pool");
    let too_many = PortConfig {
        rx_queues: 0,
        ..PortConfig::default()
    };
    assert!(matches!(
        Port::configure(ports[0].id, &too_many, &pool),
        Err(DpdkError::Unsupported { .. })
    ));
    assert!(matches!(
        Port::configure(200, &PortConfig::default(), &pool),
        Err(DpdkError::InvalidPort(200))
    ));
    let mut port = Port::configure(ports[0].id, &PortConfig::default(), &pool).expect("configure");
    assert!(matches!(
        Port::configure(ports[0].id, &PortConfig::default(), &pool),
        Err(DpdkError::PortBusy(_))
    ));
    port.start().expect("start");
    assert!(port.link().expect("link").up);
    let q = port.rx_queue(0).expect("queue 0");
    assert!(matches!(
        port.rx_queue(0),
        Err(DpdkError::QueueBusy { queue: 0, .. })
    ));
    assert!(matches!(
        port.rx_queue(1),
        Err(DpdkError::QueueBusy { queue: 1, .. })
    ));
    drop(q);
    let q = port.rx_queue(0).expect("queue 0 again after drop");
    drop(q);
    assert!(!port.xstats().expect("xstats").is_empty());

    let ((), exits) = eal.scope(|s| {
        assert!(matches!(
            s.launch(LcoreId(0), || 0),
            Err(DpdkError::BadLcore(0))
        ));
        assert!(matches!(
            s.launch(LcoreId(7), || 0),
            Err(DpdkError::BadLcore(7))
        ));
        s.launch(LcoreId(1), || panic!("worker panic on purpose"))
            .expect("launch");
    });
    assert!(matches!(
        exits.as_slice(),
        [w] if matches!(w.result, Err(DpdkError::WorkerPanicked(1)))
    ));
    let exits = eal.run_on_workers(|l| 40 + l.0 as i32).expect("run");
    assert_eq!(exits.len(), 1);
    assert_eq!(exits[0].result.as_ref().ok(), Some(&41));
    println!(
        "dpdk-result checks=ok ports={} workers={}",
        ports.len(),
        workers.len()
    );
}

#[test]
fn null_device_with_two_queues_delivers_on_both() {
    if let Some(eal) = child_eal_args() {
        return child_two_queues(&eal);
    }
    let result = run_child(
        "null_device_with_two_queues_delivers_on_both",
        &["--vdev=net_null0"],
    );
    let (q0, q1) = (get(&result, "q0"), get(&result, "q1"));
    assert!(q0 >= 1000 && q1 >= 1000, "{result:?}");
    assert_eq!(get(&result, "stats_q0"), q0);
    assert_eq!(get(&result, "stats_q1"), q1);
    assert_eq!(get(&result, "ipackets"), q0 + q1);
    assert_eq!(result.get("rss").map(String::as_str), Some("true"));
}

fn child_two_queues(eal_args: &[String]) {
    let eal = Eal::init(eal_args).expect("EAL init");
    let pool = Mempool::new(&eal, "two", 8191, 128, 2176, None).expect("pool");
    let config = PortConfig {
        rx_queues: 2,
        ..PortConfig::default()
    };
    let mut port = Port::configure(0, &config, &pool).expect("configure");
    port.start().expect("start");
    let mut queues = [port.rx_queue(0).expect("q0"), port.rx_queue(1).expect("q1")];
    let mut counts = [0u64; 2];
    let mut burst = MbufBurst::new();
    // Polled from the main lcore: an EAL thread with a mempool cache.
    for _ in 0..1_000_000 {
        for (q, c) in queues.iter_mut().zip(counts.iter_mut()) {
            *c += q.recv(&mut burst) as u64;
        }
        if counts.iter().all(|&c| c >= 1000) {
            break;
        }
    }
    burst.release();
    let stats = port.stats().expect("stats");
    println!(
        "dpdk-result q0={} q1={} stats_q0={} stats_q1={} ipackets={} rss={}",
        counts[0],
        counts[1],
        stats.q_ipackets[0],
        stats.q_ipackets[1],
        stats.ipackets,
        port.rss_enabled()
    );
}
