//! Helpers shared by the end-to-end tests: generated captures and tshark.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::process::Command;

use ferrocap_bench::gen::{self, presets, Composition, DirectionRule, GenInterface};
use ferrocap_dataplane::pcap::{DumpConfig, DumpFormat, DumpWriter, LINKTYPE_ETHERNET};

/// The interfaces generated captures carry, with the directions their
/// packets are flagged with.
pub fn interfaces() -> Vec<GenInterface> {
    [
        ("Internet", DirectionRule::In),
        ("LAN", DirectionRule::Out),
        ("Branch", DirectionRule::Unknown),
        ("Roadwarriors", DirectionRule::In),
    ]
    .into_iter()
    .map(|(name, direction)| GenInterface {
        name: name.into(),
        direction,
    })
    .collect()
}

/// Writes `packets` of the `mix` preset, on [`interfaces`], as pcapng.
pub fn write_capture(path: &Path, seed: u64, packets: u64) -> Composition {
    let mut cfg = presets::mix(seed, packets);
    cfg.interfaces = interfaces();
    // Raise the rare cases so a few thousand packets hold each of them.
    cfg.truncate_fraction = 0.01;
    cfg.arp_fraction = 0.02;
    let mut w = DumpWriter::create(path, DumpConfig::new(DumpFormat::Pcapng)).unwrap();
    for i in &cfg.interfaces {
        w.add_interface(Some(&i.name), LINKTYPE_ETHERNET).unwrap();
    }
    let mut stats = Composition::default();
    for p in gen::generate(&cfg) {
        stats.add(&p);
        w.write(&p.as_record()).unwrap();
    }
    w.finish().unwrap();
    stats
}

/// tshark helpers.
pub mod tshark {
    use std::process::Command;

    /// Whether tshark can be run.
    pub fn available() -> bool {
        Command::new("tshark")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

/// The frames of `file` (optionally those `filter` selects), each as
/// "epoch-time len", sorted. Reassembly is off: ferrocap sees single frames.
pub fn tshark_frames(file: &Path, filter: Option<&str>) -> Vec<String> {
    let mut cmd = Command::new("tshark");
    cmd.args([
        "-n",
        "-o",
        "ip.defragment:FALSE",
        "-o",
        "ipv6.defragment:FALSE",
        "-r",
    ])
    .arg(file)
    .args(["-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len"]);
    if let Some(f) = filter {
        cmd.args(["-Y", f]);
    }
    let out = cmd.output().expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed on {} with filter {filter:?}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// The frames tshark reads from `file`, failing the test if tshark cannot
/// read it all (a dump must be whole for Wireshark).
pub fn tshark_count(file: &Path) -> u64 {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args(["-T", "fields", "-e", "frame.number"])
        .output()
        .expect("tshark runs (bash deploy/test.sh installs it)");
    assert!(
        out.status.success(),
        "tshark cannot read {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).lines().count() as u64
}
