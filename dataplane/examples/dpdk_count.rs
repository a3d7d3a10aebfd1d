//! Counts the packets DPDK receives on every port.
//!
//! ```text
//! dpdk_count <EAL args> [-- [--seconds N] [--queues Q] [--idle-ms M] [--xstats]]
//! ```
//!
//! Every port gets `Q` receive queues (default 1). The queues are dealt out
//! to the worker lcores in turn; the main lcore runs no worker. A worker
//! stops after `N` seconds (default 10), or once it has received something
//! and then nothing for `M` ms (default 500: a `net_pcap` replay without
//! `infinite_rx` goes quiet at the end of its file). Then the counts, the
//! rate and each port's `rte_eth_stats` are printed, one `key=value` line
//! each.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ferrocap_dataplane::source::dpdk::{DpdkError, Eal, Mempool, Port, PortConfig, RxQueue};
use ferrocap_dataplane::source::{Burst, PacketSource};

struct Options {
    seconds: u64,
    queues: u16,
    idle: Duration,
    xstats: bool,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut opts = Options {
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
    /// From its first to its last non-empty burst.
    busy: Duration,
}

fn poll(queues: &mut [RxQueue<'_>], stop: &AtomicBool, idle_limit: Duration) -> Count {
    let mut count = Count::default();
    let mut bursts: Vec<_> = queues.iter().map(|q| q.new_burst()).collect();
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let mut got = 0usize;
        for (queue, burst) in queues.iter_mut().zip(bursts.iter_mut()) {
            let n = queue.recv(burst);
            got += n;
            for packet in burst.iter() {
                count.bytes += packet.data.len() as u64;
            }
            count.packets += n as u64;
        }
        if got > 0 {
            let now = Instant::now();
            first.get_or_insert(now);
            last = now;
        } else if first.is_some() && last.elapsed() >= idle_limit {
            break;
        }
    }
    if let Some(first) = first {
        count.busy = last.duration_since(first);
    }
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
    let n_mbufs = u32::try_from(queues_total * 2048 + 4096).unwrap_or(u32::MAX);
    let pool = Mempool::new(&eal, "dpdk_count", n_mbufs, 256, 2048 + 128, None)?;
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
            let (stop, running, idle) = (&stop, &running, opts.idle);
            running.fetch_add(1, Ordering::AcqRel);
            let launched = s.launch(*lcore, move || {
                let count = poll(&mut queues, stop, idle);
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
            "worker lcore={lcore} rx_packets={} rx_bytes={} busy_s={secs:.3} mpps={mpps:.2}",
            c.packets, c.bytes
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
