//! Fuzz target: arbitrary text → `expr::compile` against a small directory.
//! Compiling must never panic; whatever compiles is run on a few fixed
//! packets, and its normalized form must compile to a matcher that agrees.
#![no_main]

use ferrocap_dataplane::expr::{compile, Direction, Directory, IfIndex, InterfaceKind, PacketMeta};
use ferrocap_dataplane::wire::{Decoded, L3};
use libfuzzer_sys::fuzz_target;

fn directory() -> Directory {
    Directory::builder()
        .interface("Internet", InterfaceKind::Ethernet)
        .interface("LAN", InterfaceKind::Ethernet)
        .interface("Branch", InterfaceKind::VpnTunnel)
        .interface("Road", InterfaceKind::VpnClient)
        .route("0.0.0.0/0", "Internet")
        .route("192.168.1.0/24", "LAN")
        .route("10.20.0.0/16", "Branch")
        .route("fd00::/8", "LAN")
        .ip_group(
            "servers",
            &["192.168.1.10", "192.168.1.20-192.168.1.30", "2001:db8::/64"],
        )
        .ip_group("nets", &["10.0.0.0/8", "list:\"servers\""])
        .user("alice", &["192.168.1.50"])
        .user("bob", &["fd00::51"])
        .user_group("admins", &["alice", "bob"])
        .build()
        .expect("fuzz directory is valid")
}

fn packets() -> [(PacketMeta, Decoded); 4] {
    let meta = |iif, direction| PacketMeta {
        iif: Some(IfIndex(iif)),
        direction,
    };
    [
        (PacketMeta::default(), Decoded::default()),
        (
            meta(0, Direction::In),
            Decoded {
                l3: L3::V4 {
                    src: 0x0101_0101,
                    dst: 0xc0a8_010a,
                },
                ip_proto: Some(6),
                ports: Some((50000, 80)),
                tcp_flags: Some(0x02),
                ..Decoded::default()
            },
        ),
        (
            meta(1, Direction::Out),
            Decoded {
                l3: L3::V4 {
                    src: 0xc0a8_0132,
                    dst: 0x0a14_0001,
                },
                ip_proto: Some(17),
                ports: Some((137, 137)),
                ..Decoded::default()
            },
        ),
        (
            meta(3, Direction::Unknown),
            Decoded {
                l3: L3::V6 {
                    src: 0xfd00 << 112 | 0x51,
                    dst: 0x2001_0db8 << 96,
                },
                ip_proto: Some(6),
                ports: Some((443, 1024)),
                tcp_flags: Some(0x12),
                ..Decoded::default()
            },
        ),
    ]
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let dir = directory();
    let Ok(compiled) = compile(src, &dir) else {
        return;
    };
    let again = compile(&compiled.normalized, &dir).expect("the normalized form compiles");
    for (meta, d) in packets() {
        let m = compiled.matcher.matches_decoded(&meta, &d);
        assert_eq!(
            m,
            again.matcher.matches_decoded(&meta, &d),
            "normalized form disagrees"
        );
    }
    let _ = compiled.matcher.to_string();
});
