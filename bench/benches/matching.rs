//! Parse + match time per packet: ferrocap's compiled Kerio expressions
//! against libpcap's BPF interpreter (`pcap_offline_filter`, which runs
//! `bpf_filter`) with equivalent filters, on the same generated packets.
//!
//! Run: `cargo bench -p ferrocap-bench --bench matching`
//! (`FERROCAP_BENCH_PACKETS=N` packets, `FERROCAP_BENCH_CASE=label` for one
//! case only). Criterion reports each side; the closing table reports the ratio from interleaved rounds
//! measured in the same run, and the match counts of both sides (equal
//! counts show the filters are equivalent on this traffic).
//!
//! The traffic is the generator's `mix` preset without IPv6 extension
//! headers: BPF's `tcp`/`udp` and `ip6[…]` offsets do not look behind them,
//! so with them the filters would not be equivalent. VLAN and QinQ frames
//! stay in, and the BPF filters spell out the `vlan` cases, as an operator
//! must with tcpdump.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use ferrocap_bench::cases;
use ferrocap_dataplane::expr::{compile, BatchMeta, Matcher, PacketMeta};
use ferrocap_dataplane::source::BURST_MAX;
use pcap::{BpfProgram, Capture, Linktype};

struct Case {
    label: &'static str,
    matcher: Matcher,
    bpf: BpfProgram,
}

/// The packets, the metadata and the cases of `ferrocap_bench::cases`, the
/// table `ferrocap-bench run matching` uses too.
fn build() -> (Vec<Vec<u8>>, PacketMeta, Vec<Case>) {
    let n = std::env::var("FERROCAP_BENCH_PACKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let dir = cases::directory().expect("directory");
    let meta = cases::meta(&dir);
    let dead = Capture::dead(Linktype::ETHERNET).expect("pcap dead handle");
    // FERROCAP_BENCH_CASE=label keeps one case (for profilers).
    let only = std::env::var("FERROCAP_BENCH_CASE").ok();
    let cases = cases::CASES
        .iter()
        .filter(|c| only.as_deref().map_or(true, |o| o == c.label))
        .map(|c| Case {
            label: c.label,
            matcher: compile(c.kerio, &dir).expect("expression compiles").matcher,
            bpf: dead
                .compile(&cases::with_vlans(c.bpf), true)
                .expect("BPF compiles"),
        })
        .collect();
    (cases::packets(n), meta, cases)
}

/// ferrocap's path: batches of [`BURST_MAX`] frames, one
/// `Matcher::matches_batch` call each (as the DPDK worker and `capture -r`).
fn ours(c: &Case, meta: &PacketMeta, pkts: &[Vec<u8>]) -> usize {
    let mut frames: [&[u8]; BURST_MAX] = [&[]; BURST_MAX];
    let mut n = 0;
    for chunk in pkts.chunks(BURST_MAX) {
        for (f, p) in frames.iter_mut().zip(chunk) {
            *f = black_box(p.as_slice());
        }
        let batch = frames.get(..chunk.len()).unwrap_or_default();
        n += c
            .matcher
            .matches_batch(BatchMeta::Same(*meta), batch)
            .count_ones() as usize;
    }
    n
}

fn theirs(c: &Case, pkts: &[Vec<u8>]) -> usize {
    pkts.iter().filter(|p| c.bpf.filter(black_box(p))).count()
}

/// Median ns per packet of each side over interleaved rounds.
fn ratio(c: &Case, meta: &PacketMeta, pkts: &[Vec<u8>], rounds: usize) -> (f64, f64) {
    let mut a = Vec::with_capacity(rounds);
    let mut b = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        black_box(ours(c, meta, pkts));
        a.push(t.elapsed());
        let t = Instant::now();
        black_box(theirs(c, pkts));
        b.push(t.elapsed());
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_nanos() as f64 / pkts.len() as f64
    };
    (median(&mut a), median(&mut b))
}

fn main() {
    let (pkts, meta, cases) = build();
    let mut crit = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for c in &cases {
        let mut g = crit.benchmark_group(c.label);
        g.throughput(criterion::Throughput::Elements(pkts.len() as u64));
        g.bench_function("ferrocap", |b| b.iter(|| ours(c, &meta, &pkts)));
        g.bench_function("libpcap-bpf", |b| b.iter(|| theirs(c, &pkts)));
        g.finish();
    }
    crit.final_summary();

    println!();
    println!(
        "parse+match per packet, {} packets of the mix preset (median of interleaved rounds):",
        pkts.len()
    );
    println!(
        "{:<12} {:>13} {:>13} {:>8}  {:>9} {:>9}",
        "case", "ferrocap ns", "libpcap ns", "ratio", "matches", "bpf"
    );
    for c in &cases {
        let (a, b) = ratio(c, &meta, &pkts, 31);
        println!(
            "{:<12} {:>13.2} {:>13.2} {:>7.2}x  {:>9} {:>9}",
            c.label,
            a,
            b,
            a / b,
            ours(c, &meta, &pkts),
            theirs(c, &pkts)
        );
    }
    println!("target: ratio <= 0.25x");
}
