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
use ferrocap_bench::gen::{self, presets, DirectionRule, GenInterface};
use ferrocap_dataplane::expr::{compile, Direction, Directory, InterfaceKind, Matcher, PacketMeta};
use pcap::{BpfProgram, Capture, Linktype};

/// A BPF filter `f` extended to one and two VLAN tags, as libpcap needs.
fn with_vlans(f: &str) -> String {
    format!("({f}) or (vlan and (({f}) or (vlan and ({f}))))")
}

/// (label, Kerio expression, equivalent BPF filter before VLAN expansion).
fn cases() -> Vec<(&'static str, &'static str, String)> {
    let syn = "(tcp[tcpflags] & tcp-syn != 0) or (ip6 and ip6[6] == 6 and ip6[53] & 2 != 0)";
    vec![
        (
            "seed1-range",
            r#"if = "Internet" & (port = 137-139 | port = 445)"#,
            "(tcp or udp) and (portrange 137-139 or port 445)".into(),
        ),
        (
            "seed2",
            r#"oif = "Internet" & daddr = 8.8.8.8 & (dport = 80 | dport = 8080)"#,
            "dst host 8.8.8.8 and (tcp or udp) and (dst port 80 or dst port 8080)".into(),
        ),
        ("seed3", "direc = in & tcpfl = SYN", syn.into()),
        ("any", "any", "ip or ip6".into()),
        (
            "subnet-port",
            "saddr = 192.168.1.0/24 & dport = 443",
            "src net 192.168.1.0/24 and (tcp or udp) and dst port 443".into(),
        ),
    ]
}

struct Case {
    label: &'static str,
    matcher: Matcher,
    bpf: BpfProgram,
}

fn packets() -> Vec<Vec<u8>> {
    let n = std::env::var("FERROCAP_BENCH_PACKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut cfg = presets::mix(42, n);
    cfg.ipv6_ext_fraction = 0.0;
    cfg.truncate_fraction = 0.0;
    cfg.interfaces = vec![GenInterface {
        name: "Internet".into(),
        direction: DirectionRule::In,
    }];
    gen::generate(&cfg).map(|p| p.frame).collect()
}

fn build() -> (Vec<Vec<u8>>, PacketMeta, Vec<Case>) {
    let dir = Directory::builder()
        .interface("Internet", InterfaceKind::Ethernet)
        .interface("LAN", InterfaceKind::Ethernet)
        .route("192.168.1.0/24", "LAN")
        .route("0.0.0.0/0", "Internet")
        .route("::/0", "Internet")
        .build()
        .expect("directory");
    let meta = PacketMeta {
        iif: dir.interface_index("Internet"),
        direction: Direction::In,
    };
    let dead = Capture::dead(Linktype::ETHERNET).expect("pcap dead handle");
    // FERROCAP_BENCH_CASE=label keeps one case (for profilers).
    let only = std::env::var("FERROCAP_BENCH_CASE").ok();
    let cases = cases()
        .into_iter()
        .filter(|(label, _, _)| only.as_deref().map_or(true, |o| o == *label))
        .map(|(label, kerio, bpf)| Case {
            label,
            matcher: compile(kerio, &dir).expect("expression compiles").matcher,
            bpf: dead.compile(&with_vlans(&bpf), true).expect("BPF compiles"),
        })
        .collect();
    (packets(), meta, cases)
}

fn ours(c: &Case, meta: &PacketMeta, pkts: &[Vec<u8>]) -> usize {
    pkts.iter()
        .filter(|p| c.matcher.matches(meta, black_box(p)))
        .count()
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
