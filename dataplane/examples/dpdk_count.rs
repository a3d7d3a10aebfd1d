//! Counts the packets DPDK receives on every port.
//!
//! ```text
//! dpdk_count <EAL args> [-- [--seconds N] [--queues Q] [--idle-ms M] [--xstats]
//!                            [--touch count|len|read] [--mbufs N] [--cache C]]
//! ```
//!
//! Every port gets `Q` receive queues (default 1). The queues are dealt out
//! to the worker lcores in turn; the main lcore runs no worker. A worker
//! stops after `N` seconds (default 10), or once it has received something
//! and then nothing for `M` ms (default 500: a `net_pcap` replay without
//! `infinite_rx` goes quiet at the end of its file). Then the counts, the
//! rate and each port's `rte_eth_stats` are printed, one `key=value` line
//! each. `--touch` says how much of each packet a worker looks at: only the
//! burst size (`count`, like testpmd's rxonly), each packet's length (`len`,
//! the default; `rx_bytes` is then the sum of first-segment lengths), or
//! every byte (`read`, folded into a checksum).

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ferrocap_dataplane::source::dpdk::{DpdkError, Eal, Mempool, Port, PortConfig, RxQueue};
use ferrocap_dataplane::source::{Burst, PacketSource};

/// How much of each packet a worker looks at.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Touch {
    /// Only the burst size, like `testpmd --forward-mode=rxonly`.
    Count,
    /// Each packet's view and length (the default).
    Len,
    /// Every byte of every packet (what a filter at worst reads).
    Read,
}

struct Options {
    /// Mbufs in the pool; 0: 2048 per queue + 4096. `net_pcap` with
    /// `infinite_rx=1` keeps the whole file in mbufs, so it needs more.
    mbufs: u32,
    /// Per-lcore mempool cache.
    cache: u32,
    touch: Touch,
    seconds: u64,
    queues: u16,
    idle: Duration,
    xstats: bool,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut opts = Options {
        mbufs: 0,
        cache: 256,
        touch: Touch::Len,
        seconds: 10,
        queues: 1,
        idle: Duration::from_millis(500),
        xstats: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--seconds" => opts.seconds = value("--seconds")?,
            "--queues" => {
                opts.queues = u16::try_from(value("--queues")?).map_err(|e| e.to_string())?
            }
            "--idle-ms" => opts.idle = Duration::from_millis(value("--idle-ms")?),
            "--xstats" => opts.xstats = true,
            "--mbufs" => {
                opts.mbufs = u32::try_from(value("--mbufs")?).map_err(|e| e.to_string())?
            }
            "--cache" => {
                opts.cache = u32::try_from(value("--cache")?).map_err(|e| e.to_string())?
            }
            "--touch" => {
                opts.touch = match it.next().map(String::as_str) {
                    Some("count") => Touch::Count,
                    Some("len") => Touch::Len,
                    Some("read") => Touch::Read,
                    _ => return Err("--touch takes count, len or read".to_owned()),
                }
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(opts)
}

/// What one worker counted.
#[derive(Default)]
struct Count {
    packets: u64,
    bytes: u64,
    /// Folded bytes (with `--touch read`), so the reads are not optimised out.
    checksum: u64,
    /// CPU time the worker thread used, in clock ticks (`getconf CLK_TCK`),
    /// from /proc: packets per CPU-second do not depend on how much of a
    /// shared core the worker got.
    cpu_ticks: u64,
    /// From its first to its last non-empty burst.
    busy: Duration,
}

/// utime + stime of the calling thread, in clock ticks.
fn thread_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after ')'.
    field(11) + field(12)
}

fn poll(
    queues: &mut [RxQueue<'_>],
    stop: &AtomicBool,
    idle_limit: Duration,
    touch: Touch,
) -> Count {
    let mut count = Count::default();
    let mut bursts: Vec<_> = queues.iter().map(|q| q.new_burst()).collect();
    let ticks_at_start = thread_cpu_ticks();
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    let mut busy_loops = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let mut got = 0usize;
        for (queue, burst) in queues.iter_mut().zip(bursts.iter_mut()) {
            let n = queue.recv(burst);
            got += n;
            match touch {
                Touch::Count => {}
                Touch::Len => {
                    for packet in burst.iter() {
                        count.bytes += packet.data.len() as u64;
                    }
                }
                Touch::Read => {
                    for packet in burst.iter() {
                        count.bytes += packet.data.len() as u64;
                        count.checksum = packet
                            .data
                            .iter()
                            .fold(count.checksum, |acc, &b| acc.rotate_left(5) ^ u64::from(b));
                    }
                }
            }
            count.packets += n as u64;
        }
        // Reading the clock costs as much as a few packets: look at it once
        // every 64 busy loops, and on every idle one.
        if got > 0 {
            busy_loops += 1;
            if first.is_none() || busy_loops % 64 == 0 {
                let now = Instant::now();
                first.get_or_insert(now);
                last = now;
            }
        } else if first.is_some() {
            let now = Instant::now();
            if now.duration_since(last) >= idle_limit {
                break;
            }
        }
    }
    if let Some(first) = first {
        count.busy = last.duration_since(first);
    }
    count.cpu_ticks = thread_cpu_ticks().saturating_sub(ticks_at_start);
    count
}

fn run(eal_args: &[String], opts: &Options) -> Result<(), DpdkError> {
    let eal = Eal::init(eal_args)?;
    let ports: Vec<_> = eal.ports().collect();
    if ports.is_empty() {
        eprintln!("dpdk_count: no DPDK port (add --vdev=net_null0 or a NIC)");
        return Ok(());
    }
    let workers: Vec<_> = eal.worker_lcores().collect();
    if workers.is_empty() {
        eprintln!("dpdk_count: no worker lcore (use -l 0-1 or more)");
        return Ok(());
    }
    let queues_total = ports.len() * usize::from(opts.queues);
    let n_mbufs = match opts.mbufs {
        0 => u32::try_from(queues_total * 2048 + 4096).unwrap_or(u32::MAX),
        n => n,
    };
    let pool = Mempool::new(&eal, "dpdk_count", n_mbufs, opts.cache, 2048 + 128, None)?;
    let config = PortConfig {
        rx_queues: opts.queues,
        ..PortConfig::default()
    };
    let mut opened = Vec::new();
    for info in &ports {
        let dev = eal.device_info(info.id)?;
        let mut port = Port::configure(info.id, &config, &pool)?;
        port.start()?;
        let link = port.link()?;
        println!(
            "port={} name={} driver={} max_rx_queues={} rss_offloads={:#x} rx_queues={} rss={} link_up={} speed_mbps={}",
            info.id,
            info.name,
            dev.driver,
            dev.max_rx_queues,
            dev.rss_offloads,
            port.rx_queues(),
            port.rss_enabled(),
            link.up,
            link.speed_mbps
        );
        opened.push(port);
    }

    // Deal the queues out to the workers in turn.
    let mut per_worker: Vec<Vec<RxQueue<'_>>> = workers.iter().map(|_| Vec::new()).collect();
    let mut next = 0usize;
    for port in &opened {
        for q in 0..port.rx_queues() {
            if let Some(list) = per_worker.get_mut(next % workers.len()) {
                list.push(port.rx_queue(q)?);
            }
            next += 1;
        }
    }

    let stop = AtomicBool::new(false);
    let running = AtomicUsize::new(0);
    let counts: Vec<std::sync::Mutex<Count>> = workers.iter().map(|_| Default::default()).collect();
    let deadline = Duration::from_secs(opts.seconds);
    let started = Instant::now();
    let (launched, exits) = eal.scope(|s| {
        for ((lcore, mut queues), slot) in workers.iter().zip(per_worker).zip(&counts) {
            if queues.is_empty() {
                continue;
            }
            let (stop, running, idle, touch) = (&stop, &running, opts.idle, opts.touch);
            running.fetch_add(1, Ordering::AcqRel);
            let launched = s.launch(*lcore, move || {
                let count = poll(&mut queues, stop, idle, touch);
                if let Ok(mut slot) = slot.lock() {
                    *slot = count;
                }
                running.fetch_sub(1, Ordering::AcqRel);
                0
            });
            if let Err(e) = launched {
                running.fetch_sub(1, Ordering::AcqRel);
                stop.store(true, Ordering::Relaxed);
                return Err(e);
            }
        }
        while running.load(Ordering::Acquire) > 0 && started.elapsed() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::Relaxed);
        Ok(())
    });
    launched?;
    for exit in exits {
        if let Err(e) = exit.result {
            eprintln!("dpdk_count: worker on lcore {}: {e}", exit.lcore);
        }
    }

    let (mut packets, mut bytes) = (0u64, 0u64);
    for (lcore, slot) in workers.iter().zip(&counts) {
        let Ok(c) = slot.lock() else { continue };
        let secs = c.busy.as_secs_f64();
        let mpps = if secs > 0.0 {
            c.packets as f64 / secs / 1e6
        } else {
            0.0
        };
        println!(
            "worker lcore={lcore} rx_packets={} rx_bytes={} checksum={:#x} busy_s={secs:.3} cpu_ticks={} mpps={mpps:.2}",
            c.packets, c.bytes, c.checksum, c.cpu_ticks
        );
        packets += c.packets;
        bytes += c.bytes;
    }
    println!("total rx_packets={packets} rx_bytes={bytes}");
    for port in &opened {
        let st = port.stats()?;
        println!(
            "stats port={} ipackets={} ibytes={} imissed={} ierrors={} rx_nombuf={} q_ipackets={:?}",
            port.id(),
            st.ipackets,
            st.ibytes,
            st.imissed,
            st.ierrors,
            st.rx_nombuf,
            &st.q_ipackets[..usize::from(port.rx_queues()).min(st.q_ipackets.len())]
        );
        if opts.xstats {
            for x in port.xstats()? {
                println!("xstat port={} {}={}", port.id(), x.name, x.value);
            }
        }
    }
    println!(
        "mempool available={} in_use={}",
        pool.available(),
        pool.in_use()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let split = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let (eal_args, app_args) = args.split_at(split);
    let opts = match parse_options(app_args.get(1..).unwrap_or(&[])) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("dpdk_count: {e}");
            return ExitCode::from(2);
        }
    };
    match run(eal_args, &opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dpdk_count: {e}");
            ExitCode::FAILURE
        }
    }
}
