//! The cost of a runtime worker's own per-packet work, without DPDK: one
//! worker polls a [`MemorySource`] that replays a capture, with one dump
//! output, and the time per packet is printed. Run it under
//! `valgrind --tool=callgrind` and read the inclusive cost of
//! `Worker::run_burst` for a count that the machine's load does not move.
//!
//! ```text
//! worker_cost [CAPTURE (deploy/demo.pcap)] [PASSES (4)] [EXPRESSION]
//! ```
//!
//! The default expression is the seed's first example,
//! `if = "Internet" & (port = 137-139 | port = 445)`; every packet arrives
//! on interface "Internet", direction in.

use std::time::{Duration, Instant};

use ferrocap_dataplane::expr::{compile, Direction, Directory, IfIndex, InterfaceKind};
use ferrocap_dataplane::pcap::{CaptureReader, DumpFormat};
use ferrocap_dataplane::runtime::{
    Classifier, DirectionRule, DumpSpec, InterfaceRule, OutputKind, OutputSpec, Runtime,
    RuntimeConfig,
};
use ferrocap_dataplane::source::{MemorySource, PacketMeta};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().map_or("deploy/demo.pcap", String::as_str);
    let passes: usize = args.get(1).map_or(Ok(4), |s| s.parse())?;
    let text = args.get(2).map_or(
        r#"if = "Internet" & (port = 137-139 | port = 445)"#,
        String::as_str,
    );

    let mut reader = CaptureReader::open(path)?;
    let mut one_pass = Vec::new();
    while let Some(r) = reader.next_record()? {
        let meta = PacketMeta {
            port: 0,
            timestamp_ns: r.ts_nanos,
            orig_len: r.orig_len,
            ..PacketMeta::default()
        };
        one_pass.push((r.data.to_vec(), meta));
    }
    let frames: Vec<_> = (0..passes).flat_map(|_| one_pass.iter().cloned()).collect();
    let n = frames.len();

    let dir = Directory::builder()
        .interface("Internet", InterfaceKind::Ethernet)
        .interface("LAN", InterfaceKind::Ethernet)
        .route("192.168.1.0/24", "LAN")
        .route("0.0.0.0/0", "Internet")
        .route("::/0", "Internet")
        .build()?;
    let classifier = Classifier::new(
        vec!["Internet".into(), "LAN".into()],
        vec![InterfaceRule {
            iif: IfIndex(0),
            port: 0,
            vlan: None,
            direction: DirectionRule::Fixed(Direction::In),
        }],
    );
    let out = tempfile_path();
    let rt = Runtime::new(
        RuntimeConfig {
            ring_slots: 1 << 16,
            ..RuntimeConfig::default()
        },
        classifier,
        None,
    )?;
    rt.add_output(OutputSpec {
        name: "dump".into(),
        expression: text.into(),
        matcher: compile(text, &dir)?.matcher,
        kind: OutputKind::Dump(DumpSpec {
            path: out.clone(),
            format: DumpFormat::Pcap,
            snaplen: 0,
            max_file_bytes: None,
            max_file_seconds: None,
            max_files: 1,
            max_packets: None,
        }),
    })?;
    let mut workers = rt.workers()?;
    let mut source = MemorySource::new(frames);
    let start = Instant::now();
    if let Some(w) = workers.first_mut() {
        w.run(&mut source)?;
    }
    let took = start.elapsed();
    drop(workers);
    let snap = rt.finish(Duration::from_secs(5));
    let _ = std::fs::remove_file(&out);
    println!(
        "packets={n} rx={} matched={} ns_per_packet={:.1}",
        snap.rx(),
        snap.matched(),
        took.as_nanos() as f64 / n.max(1) as f64
    );
    Ok(())
}

fn tempfile_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("worker_cost-{}.pcap", std::process::id()))
}
