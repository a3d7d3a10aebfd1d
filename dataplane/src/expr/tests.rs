//! End-to-end tests of the pipeline: source → [`compile`] → [`Matcher`],
//! checked against hand-written expectations and against [`reference::eval`].
#![forbid(unsafe_code)]

use std::net::{Ipv4Addr, Ipv6Addr};

use super::*;
use crate::wire::{synth, tcp_flags as f, Decoded, Depth, L3};

/// The directory most tests use.
pub(crate) fn fixture() -> Directory {
    Directory::builder()
        .interface("Internet", InterfaceKind::Ethernet) // 0
        .interface("LAN", InterfaceKind::Ethernet) // 1
        .interface("Branch", InterfaceKind::VpnTunnel) // 2
        .interface("Roadwarrior", InterfaceKind::VpnClient) // 3
        .interface("DMZ", InterfaceKind::Ethernet) // 4
        .route("0.0.0.0/0", "Internet")
        .route("192.168.1.0/24", "LAN")
        .route("192.168.1.128/255.255.255.128", "DMZ")
        .route("10.20.0.0/16", "Branch")
        .route("10.99.0.0/16", "Roadwarrior")
        .route("::/0", "Internet")
        .route("fd00::/8", "LAN")
        .ip_group(
            "servers",
            &["192.168.1.10", "192.168.1.20-192.168.1.30", "2001:db8::/64"],
        )
        .ip_group("everything", &["list:\"servers\"", "10.0.0.0/255.0.0.0"])
        .ip_group("v4only", &["172.16.0.0/12"])
        .ip_group("empty", &[])
        .user("alice", &["192.168.1.50"])
        .user("bob", &["192.168.1.51", "fd00::51"])
        .user("carol", &[])
        .user_group("admins", &["alice", "bob"])
        .build()
        .expect("fixture directory is valid")
}

const INTERNET: IfIndex = IfIndex(0);
const LAN: IfIndex = IfIndex(1);
const BRANCH: IfIndex = IfIndex(2);
const ROADWARRIOR: IfIndex = IfIndex(3);

fn ip4(s: &str) -> u32 {
    s.parse::<Ipv4Addr>().expect("test address").into()
}

fn ip6(s: &str) -> u128 {
    s.parse::<Ipv6Addr>().expect("test address").into()
}

/// A packet description for the tables.
#[derive(Clone, Copy)]
struct P {
    iif: Option<IfIndex>,
    dir: Direction,
    d: Decoded,
}

impl P {
    fn arp() -> P {
        P {
            iif: None,
            dir: Direction::Unknown,
            d: Decoded::default(),
        }
    }
    fn v4(src: &str, dst: &str) -> P {
        P {
            d: Decoded {
                l3: L3::V4 {
                    src: ip4(src),
                    dst: ip4(dst),
                },
                ..Decoded::default()
            },
            ..P::arp()
        }
    }
    fn v6(src: &str, dst: &str) -> P {
        P {
            d: Decoded {
                l3: L3::V6 {
                    src: ip6(src),
                    dst: ip6(dst),
                },
                ..Decoded::default()
            },
            ..P::arp()
        }
    }
    fn udp(mut self, sport: u16, dport: u16) -> P {
        self.d.ip_proto = Some(17);
        self.d.ports = Some((sport, dport));
        self
    }
    fn tcp(mut self, sport: u16, dport: u16, flags: u8) -> P {
        self.d.ip_proto = Some(6);
        self.d.ports = Some((sport, dport));
        self.d.tcp_flags = Some(flags);
        self
    }
    fn on(mut self, iif: IfIndex) -> P {
        self.iif = Some(iif);
        self
    }
    fn dir(mut self, dir: Direction) -> P {
        self.dir = dir;
        self
    }
    fn meta(&self) -> PacketMeta {
        PacketMeta {
            iif: self.iif,
            direction: self.dir,
        }
    }
}

/// Runs `(expression, [(packet, expected)])` cases through the compiled
/// matcher and the reference interpreter. The matcher answers each packet
/// three ways: from the decoded summary ([`Matcher::matches_decoded`]), and
/// on a frame built from it ([`synth::frame`]) one at a time and in a batch
/// — the last two are the capture paths, through the narrowed sub-plans.
fn check(cases: &[(&str, &[(P, bool)])]) {
    let dir = fixture();
    for (src, packets) in cases {
        let c = compile(src, &dir).unwrap_or_else(|e| panic!("{src}: {e}"));
        let ast = parse(src).expect("parses");
        let frames: Vec<Vec<u8>> = packets.iter().map(|(p, _)| synth::frame(&p.d)).collect();
        let views: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let metas: Vec<PacketMeta> = packets.iter().map(|(p, _)| p.meta()).collect();
        let batch = c.matcher.matches_batch(BatchMeta::Each(&metas), &views);
        for (i, (p, want)) in packets.iter().enumerate() {
            let got = c.matcher.matches_decoded(&p.meta(), &p.d);
            assert_eq!(got, *want, "{src} packet #{i}\n{}", c.matcher);
            let reference = reference::eval(&ast, &dir, &p.meta(), &p.d).expect("reference");
            assert_eq!(reference, *want, "reference: {src} packet #{i}");
            let frame = &frames[i];
            let one = c.matcher.matches(&p.meta(), frame);
            assert_eq!(one, *want, "{src} packet #{i} as a frame\n{}", c.matcher);
            assert_eq!((batch >> i) & 1 == 1, *want, "{src} packet #{i} in a batch");
            let same = c.matcher.matches_batch(BatchMeta::Same(p.meta()), &[frame]);
            assert_eq!(same == 1, *want, "{src} packet #{i} in a batch of one");
        }
    }
}

#[test]
fn seed_examples() {
    use Direction::*;
    check(&[
        (
            r#"if = "Internet" & (port >= 137 & port <= 139 | port = 445)"#,
            &[
                (
                    P::v4("1.2.3.4", "192.168.1.5").udp(137, 137).on(INTERNET),
                    true,
                ),
                (
                    P::v4("1.2.3.4", "192.168.1.5").udp(50000, 138).on(INTERNET),
                    true,
                ),
                // Arrived on the LAN, leaves through the Internet (default route).
                (
                    P::v4("192.168.1.5", "8.8.8.8")
                        .tcp(50000, 445, f::SYN)
                        .on(LAN),
                    true,
                ),
                (
                    P::v4("192.168.1.5", "192.168.1.6")
                        .tcp(50000, 445, f::SYN)
                        .on(LAN),
                    false,
                ),
                (
                    P::v4("1.2.3.4", "192.168.1.5")
                        .tcp(80, 80, f::ACK)
                        .on(INTERNET),
                    false,
                ),
                (
                    P::v4("1.2.3.4", "192.168.1.5")
                        .tcp(136, 140, f::ACK)
                        .on(INTERNET),
                    true,
                ),
                (P::v4("1.2.3.4", "192.168.1.5").on(INTERNET), false),
                (P::arp().on(INTERNET), false),
            ],
        ),
        (
            r#"oif = "Internet" & daddr = 203.0.113.10 & (dport = 80 | dport = 8080)"#,
            &[
                (
                    P::v4("192.168.1.5", "203.0.113.10").tcp(50000, 80, f::SYN),
                    true,
                ),
                (
                    P::v4("192.168.1.5", "203.0.113.10").tcp(50000, 8080, f::SYN),
                    true,
                ),
                (
                    P::v4("192.168.1.5", "203.0.113.10").tcp(50000, 443, f::SYN),
                    false,
                ),
                (
                    P::v4("192.168.1.5", "203.0.113.11").tcp(50000, 80, f::SYN),
                    false,
                ),
                (
                    P::v4("203.0.113.10", "192.168.1.5").tcp(80, 50000, f::ACK),
                    false,
                ),
            ],
        ),
        (
            "direc = in & tcpfl = SYN",
            &[
                (P::v4("1.2.3.4", "5.6.7.8").tcp(1, 2, f::SYN).dir(In), true),
                (
                    P::v4("1.2.3.4", "5.6.7.8")
                        .tcp(1, 2, f::SYN | f::ACK)
                        .dir(In),
                    true,
                ),
                (P::v4("1.2.3.4", "5.6.7.8").tcp(1, 2, f::ACK).dir(In), false),
                (
                    P::v4("1.2.3.4", "5.6.7.8").tcp(1, 2, f::SYN).dir(Out),
                    false,
                ),
                (
                    P::v4("1.2.3.4", "5.6.7.8").tcp(1, 2, f::SYN).dir(Unknown),
                    false,
                ),
                (P::v4("1.2.3.4", "5.6.7.8").udp(1, 2).dir(In), false),
            ],
        ),
        (
            "tcpfl = SYN +ACK -RST",
            &[
                (P::v4("1.2.3.4", "5.6.7.8").tcp(1, 2, f::SYN | f::ACK), true),
                (
                    P::v4("1.2.3.4", "5.6.7.8").tcp(1, 2, f::SYN | f::ACK | f::PSH),
                    true,
                ),
                (
                    P::v4("1.2.3.4", "5.6.7.8").tcp(1, 2, f::SYN | f::ACK | f::RST),
                    false,
                ),
                (P::v4("1.2.3.4", "5.6.7.8").tcp(1, 2, f::SYN), false),
            ],
        ),
    ]);
}

#[test]
fn any_and_addresses() {
    let (a, b) = ("192.168.1.10", "8.8.8.8");
    check(&[
        (
            "any",
            &[
                (P::v4(a, b), true),
                (P::v6("::1", "::2"), true),
                (P::arp(), false),
            ],
        ),
        (
            "addr = 192.168.1.10",
            &[
                (P::v4(a, b), true),
                (P::v4(b, a), true),
                (P::v4(b, b), false),
                (P::v6("::1", "::2"), false),
                (P::arp(), false),
            ],
        ),
        (
            "saddr = 192.168.1.0/255.255.255.0",
            &[
                (P::v4("192.168.1.0", b), true),
                (P::v4("192.168.1.255", b), true),
                (P::v4("192.168.2.0", b), false),
                (P::v4(b, "192.168.1.1"), false),
            ],
        ),
        (
            "daddr = 192.168.1.77/25",
            &[
                (P::v4(b, "192.168.1.0"), true),
                (P::v4(b, "192.168.1.127"), true),
                (P::v4(b, "192.168.1.128"), false),
            ],
        ),
        (
            "addr = 10.0.0.5-10.0.1.4",
            &[
                (P::v4("10.0.0.4", b), false),
                (P::v4("10.0.0.5", b), true),
                (P::v4("10.0.0.255", b), true),
                (P::v4(b, "10.0.1.4"), true),
                (P::v4(b, "10.0.1.5"), false),
            ],
        ),
        (
            "addr = 2001:abcd:1234::1",
            &[
                (P::v6("2001:abcd:1234::1", "::2"), true),
                (P::v6("2001:abcd:1234::2", "::2"), false),
                (P::v4(a, b), false),
            ],
        ),
        (
            "daddr = 2001:db8::/32 | saddr = fe80::1-fe80::ff",
            &[
                (P::v6("::1", "2001:db8:ffff::1"), true),
                (P::v6("::1", "2001:db9::"), false),
                (P::v6("fe80::ff", "::2"), true),
                (P::v6("fe80::100", "::2"), false),
            ],
        ),
        (
            r#"addr = list:"everything""#,
            &[
                (P::v4("192.168.1.10", b), true),
                (P::v4(b, "192.168.1.25"), true),
                (P::v4(b, "192.168.1.31"), false),
                (P::v4("10.255.255.255", b), true),
                (P::v6("2001:db8::ffff", "::2"), true),
                (P::v6("2001:db8:0:1::", "::2"), false),
            ],
        ),
        (
            r#"saddr = user:"alice,[admins]""#,
            &[
                (P::v4("192.168.1.50", b), true),
                (P::v4("192.168.1.51", b), true),
                (P::v6("fd00::51", "::2"), true),
                (P::v4("192.168.1.52", b), false),
                (P::v4(b, "192.168.1.50"), false),
            ],
        ),
        (
            r#"saddr = user:"carol""#,
            &[(P::v4("192.168.1.50", b), false)],
        ),
    ]);
}

#[test]
fn not_equal_is_false_when_the_value_is_not_comparable() {
    let b = "8.8.8.8";
    check(&[
        (
            "saddr != 10.0.0.0/8",
            &[
                (P::v4("10.1.2.3", b), false),
                (P::v4("11.1.2.3", b), true),
                (P::v6("::1", "::2"), false),
                (P::arp(), false),
            ],
        ),
        (
            "addr != 10.0.0.1",
            &[
                (P::v4("10.0.0.1", b), false),
                (P::v4(b, "10.0.0.1"), false),
                (P::v4(b, b), true),
            ],
        ),
        (
            r#"daddr != list:"servers""#,
            &[
                (P::v4(b, "192.168.1.10"), false),
                (P::v4(b, b), true),
                (P::v6("::1", "2001:db8::1"), false),
                (P::v6("::1", "::2"), true),
            ],
        ),
        (
            r#"daddr != list:"v4only""#,
            &[(P::v6("::1", "::2"), false), (P::v4(b, b), true)],
        ),
        (r#"daddr != list:"empty""#, &[(P::v4(b, b), false)]),
    ]);
}

#[test]
fn ports() {
    let p = || P::v4("1.1.1.1", "2.2.2.2");
    check(&[
        (
            "port = 137-139",
            &[
                (p().udp(137, 1), true),
                (p().udp(1, 139), true),
                (p().udp(136, 140), false),
                (p(), false),
            ],
        ),
        (
            "port != 80",
            &[
                (p().tcp(80, 80, 0), false),
                (p().tcp(80, 81, 0), true),
                (p(), false),
            ],
        ),
        (
            "dport != 100-200",
            &[
                (p().udp(150, 99), true),
                (p().udp(150, 100), false),
                (p().udp(1, 201), true),
            ],
        ),
        (
            "sport < 1024 & dport > 1023",
            &[
                (p().udp(1023, 1024), true),
                (p().udp(1024, 1024), false),
                (p().udp(0, 65535), true),
                (p().udp(1, 1023), false),
            ],
        ),
        ("sport < 0", &[(p().udp(0, 0), false)]),
        ("dport >= 0", &[(p().udp(0, 0), true), (p(), false)]),
        (
            "dport <= 53",
            &[(p().udp(0, 53), true), (p().udp(0, 54), false)],
        ),
    ]);
}

/// Two single-range port tests merged into one two-range test must keep
/// the truth table's bit order, which puts two-range tests after every
/// single-range one (found by a differential run against tshark: the
/// merged test and `sport >= 1024` swapped bits).
#[test]
fn merged_port_tests_keep_their_bits() {
    let p = || P::v4("192.168.1.12", "8.8.8.8");
    check(&[
        (
            "(dport = 80 | dport = 443) & sport >= 1024 | sport = 53",
            &[
                (p().tcp(53, 22, f::SYN), true),
                (p().tcp(2000, 443, f::SYN), true),
                (p().tcp(2000, 22, f::SYN), false),
                (p().tcp(1000, 80, f::SYN), false),
                (p().udp(53, 53), true),
                (p(), false),
            ],
        ),
        (
            r#"if = "Internet" & ((dport = 80 | dport = 8080) & sport >= 1024 | sport = 53)"#,
            &[
                (p().tcp(53, 22, f::SYN).on(INTERNET), true),
                (p().tcp(4000, 8080, 0).on(INTERNET), true),
                (p().tcp(4000, 8081, 0).on(INTERNET), false),
            ],
        ),
        (
            "(dport != 0 | dport >= 1023) & (sport >= 49152 | dport <= 80)",
            &[
                (p().tcp(49152, 0, 0), false),
                (p().tcp(0, 53, 0), true),
                (p().tcp(49152, 2000, 0), true),
                (p().tcp(1000, 2000, 0), false),
            ],
        ),
    ]);
}

#[test]
fn interfaces_and_directions() {
    let lan_to_net = || P::v4("192.168.1.5", "8.8.8.8");
    let net_to_lan = || P::v4("8.8.8.8", "192.168.1.5");
    check(&[
        (
            r#"iif = "LAN""#,
            &[
                (lan_to_net().on(LAN), true),
                (lan_to_net().on(INTERNET), false),
                (lan_to_net(), false),
                (P::arp().on(LAN), true),
                (lan_to_net().on(IfIndex(99)), false),
            ],
        ),
        (
            r#"iif != "LAN""#,
            &[
                (lan_to_net().on(LAN), false),
                (lan_to_net().on(INTERNET), true),
                (lan_to_net(), false),
                (lan_to_net().on(IfIndex(99)), false),
            ],
        ),
        (
            r#"oif = "DMZ""#,
            &[
                (P::v4("8.8.8.8", "192.168.1.128"), true),
                (P::v4("8.8.8.8", "192.168.1.127"), false),
                (P::arp(), false),
            ],
        ),
        (
            r#"oif != "Internet""#,
            &[
                (net_to_lan(), true),
                (lan_to_net(), false),
                (P::v6("::1", "fd00::1"), true),
                (P::arp(), false),
            ],
        ),
        (
            r#"if = "LAN""#,
            &[
                (lan_to_net().on(LAN), true),
                (net_to_lan().on(INTERNET), true),
                (lan_to_net().on(INTERNET), false),
                (P::arp().on(LAN), true),
            ],
        ),
        (
            r#"if != "LAN""#,
            &[
                (lan_to_net().on(LAN), false),
                (net_to_lan().on(INTERNET), false),
                (lan_to_net().on(INTERNET), true),
                (lan_to_net(), true),
                (P::arp(), false),
                (P::arp().on(INTERNET), true),
                (P::arp().on(LAN), false),
            ],
        ),
        (
            "if = vpnclient",
            &[
                (P::v4("192.168.1.5", "10.99.0.1"), true),
                (P::v4("192.168.1.5", "10.20.0.1"), false),
                (P::arp().on(ROADWARRIOR), true),
                (P::arp().on(BRANCH), false),
            ],
        ),
        (
            "iif = vpn",
            &[
                (P::arp().on(ROADWARRIOR), true),
                (P::arp().on(BRANCH), true),
                (P::arp().on(LAN), false),
            ],
        ),
        (
            r#"oif = vpn:"Branch""#,
            &[
                (P::v4("192.168.1.5", "10.20.3.4"), true),
                (P::v4("192.168.1.5", "10.99.3.4"), false),
            ],
        ),
        (
            "direc = out",
            &[
                (P::arp().dir(Direction::Out), true),
                (P::arp().dir(Direction::In), false),
                (P::arp(), false),
            ],
        ),
    ]);
}

#[test]
fn tcp_flag_forms() {
    let t = |flags| P::v4("1.1.1.1", "2.2.2.2").tcp(1, 2, flags);
    check(&[
        (
            "tcpfl = NONE",
            &[(t(0), true), (t(0x40 | 0x80), true), (t(f::FIN), false)],
        ),
        (
            "tcpfl = ALL",
            &[(t(f::ALL), true), (t(f::ALL & !f::URG), false)],
        ),
        ("tcpfl = -ALL", &[(t(0), true), (t(f::PSH), false)]),
        (
            "tcpfl = -syn -ack",
            &[(t(f::FIN), true), (t(f::SYN), false), (t(f::ACK), false)],
        ),
        (
            "tcpfl = FIN",
            &[
                (t(f::FIN | f::ACK), true),
                (P::v4("1.1.1.1", "2.2.2.2").udp(1, 2), false),
            ],
        ),
    ]);
}

#[test]
fn precedence_and_grouping() {
    let p = |s, d| P::v4("1.1.1.1", "2.2.2.2").udp(s, d);
    check(&[
        (
            "sport = 1 | sport = 2 & dport = 3",
            &[(p(1, 9), true), (p(2, 3), true), (p(2, 9), false)],
        ),
        (
            "(sport = 1 | sport = 2) & dport = 3",
            &[(p(1, 9), false), (p(1, 3), true), (p(2, 3), true)],
        ),
    ]);
}

#[test]
fn depth_is_the_least_needed() {
    let dir = fixture();
    let cases: &[(&str, Depth)] = &[
        (r#"iif = "LAN""#, Depth::Metadata),
        ("direc = in", Depth::Metadata),
        (r#"iif = "LAN" & direc = out"#, Depth::Metadata),
        (r#"oif = "LAN""#, Depth::Network),
        (r#"if = "LAN""#, Depth::Network),
        ("any", Depth::Network),
        ("saddr = 1.2.3.4", Depth::Network),
        ("dport = 80", Depth::Transport),
        ("tcpfl = SYN", Depth::Transport),
        (r#"iif = "LAN" | port = 1"#, Depth::Transport),
        // No routes lead to the DMZ… except the /25: still Network.
        (r#"if = "DMZ""#, Depth::Network),
        // Constants need nothing.
        ("port < 0", Depth::Metadata),
        (r#"daddr = list:"empty""#, Depth::Metadata),
    ];
    for (src, want) in cases {
        let c = compile(src, &dir).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(c.matcher.depth(), *want, "{src}");
    }
}

#[test]
fn if_without_routes_needs_only_metadata() {
    let dir = Directory::builder()
        .interface("LAN", InterfaceKind::Ethernet)
        .build()
        .expect("valid");
    let c = compile(r#"if = "LAN""#, &dir).expect("compiles");
    assert_eq!(c.matcher.depth(), Depth::Metadata);
    assert_eq!(
        c.matcher.to_string(),
        "depth: Metadata\nt0: iif in {\"LAN\"}\nmatch: t0"
    );
}

#[test]
fn matcher_display_shows_the_plan() {
    let dir = fixture();
    let cases: &[(&str, &str)] = &[
        (
            r#"if = "Internet" & (port >= 137 & port <= 139 | port = 445)"#,
            "depth: Transport\n\
             t0: iif in {\"Internet\"}\n\
             t1: port in {137-65535}\n\
             t2: port in {0-139}\n\
             t3: port in {445}\n\
             t4: daddr in v4{0.0.0.0-10.19.255.255, 10.21.0.0-10.98.255.255, 10.100.0.0-192.168.0.255, 192.168.2.0-255.255.255.255} v6{::-fcff:ffff:ffff:ffff:ffff:ffff:ffff:ffff, fe00::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff}\n\
             match: ((t0 | t4) & ((t1 & t2) | t3))",
        ),
        ("port < 0", "depth: Metadata\nconstant: no match"),
        (
            "saddr != 10.0.0.0/8 & tcpfl = SYN -ACK",
            "depth: Transport\n\
             t0: tcpfl & 0x12 == 0x02\n\
             t1: saddr not in v4{10.0.0.0-10.255.255.255} v6{}\n\
             match: (t1 & t0)",
        ),
        (
            r#"if != "LAN""#,
            "depth: Network\n\
             t0: iif in {\"Internet\", \"Branch\", \"Roadwarrior\", \"DMZ\"}\n\
             t1: iif in {\"Internet\", \"LAN\", \"Branch\", \"Roadwarrior\", \"DMZ\"}\n\
             t2: daddr in v4{192.168.1.0-192.168.1.127} v6{fd00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff}\n\
             t3: daddr in v4{0.0.0.0-192.168.0.255, 192.168.1.128-255.255.255.255} v6{::-fcff:ffff:ffff:ffff:ffff:ffff:ffff:ffff, fe00::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff}\n\
             match: ((t0 & !t2) | (!t1 & t3))",
        ),
    ];
    for (src, want) in cases {
        let c = compile(src, &dir).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(c.matcher.to_string(), *want, "{src}");
    }
}

#[test]
fn large_expressions_use_the_branch_program() {
    // 14 distinct tests: more than a truth table takes.
    let src = (1..=14)
        .map(|i| format!("dport = {i}"))
        .collect::<Vec<_>>()
        .join(" | ")
        + " & sport != 0";
    const { assert!(14 > TABLE_MAX_TESTS) };
    let dir = fixture();
    let c = compile(&src, &dir).expect("compiles");
    let plan = c.matcher.to_string();
    assert!(
        plan.starts_with("depth: Transport\n0: dport in {1} ? MATCH : 1\n"),
        "{plan}"
    );
    assert!(
        plan.ends_with("\n13: dport in {14} ? 14 : NO\n14: sport in {1-65535} ? MATCH : NO"),
        "{plan}"
    );
    assert_eq!(c.matcher.len(), 15);
    let ast = parse(&src).expect("parses");
    for s in [0u16, 1, 2] {
        for d in 0u16..=16 {
            let p = P::v4("1.1.1.1", "2.2.2.2").udp(s, d);
            let want = reference::eval(&ast, &dir, &p.meta(), &p.d).expect("reference");
            assert_eq!(
                want,
                (1..=13).contains(&d) || (d == 14 && s != 0),
                "{s} {d}"
            );
            assert_eq!(c.matcher.matches_decoded(&p.meta(), &p.d), want, "{s} {d}");
        }
    }
}

#[test]
fn compile_reports_unknown_names_where_they_were_written() {
    let dir = fixture();
    let cases: &[(&str, ExprErrorKind, &str)] = &[
        (
            r#"daddr = list:"nosuch""#,
            ExprErrorKind::UnknownIpGroup,
            "Line 1, char 15: unknown IP group \"nosuch\"\ndaddr = list:\"nosuch\"\n              ^",
        ),
        (
            r#"saddr = user:"alice, mallory""#,
            ExprErrorKind::UnknownUser,
            "Line 1, char 22: unknown user \"mallory\"\nsaddr = user:\"alice, mallory\"\n                     ^",
        ),
        (
            r#"saddr = user:"alice,[nobody]""#,
            ExprErrorKind::UnknownUserGroup,
            "Line 1, char 21: unknown user group \"nobody\"\nsaddr = user:\"alice,[nobody]\"\n                    ^",
        ),
        (
            "dport = 80 &\n  iif = \"WAN\"",
            ExprErrorKind::UnknownInterface,
            "Line 2, char 9: unknown interface \"WAN\"\n  iif = \"WAN\"\n        ^",
        ),
        (
            r#"if = vpn:"Mars""#,
            ExprErrorKind::UnknownVpn,
            "Line 1, char 6: unknown VPN interface \"Mars\"\nif = vpn:\"Mars\"\n     ^",
        ),
        (
            r#"if = vpn:"LAN""#,
            ExprErrorKind::UnknownVpn,
            "Line 1, char 6: interface \"LAN\" is not a VPN\nif = vpn:\"LAN\"\n     ^",
        ),
        (
            "port = 70000",
            ExprErrorKind::BadPort,
            "Line 1, char 8: port `70000` is out of range (0-65535)\nport = 70000\n       ^",
        ),
    ];
    for (src, kind, want) in cases {
        let e = compile(src, &dir).expect_err(src);
        assert_eq!(e.kind, *kind, "{src}");
        assert_eq!(e.to_string(), *want, "{src}");
        // The reference interpreter refuses the same names.
        if let Ok(ast) = parse(src) {
            let r = reference::eval(&ast, &dir, &PacketMeta::default(), &Decoded::default());
            assert!(r.is_err(), "reference accepts {src}");
        }
    }
}

#[test]
fn warnings() {
    let dir = fixture();
    let cases: &[(&str, &[&str])] = &[
        (
            "port >= 137 & port <= 139",
            &["Line 1, char 1: warning: `port >= 137 & port <= 139` also matches a packet whose \
               source port satisfies one side and destination port the other; write \
               `port = 137-139` to require one port inside the range"],
        ),
        (
            r#"if = "LAN" & (port < 140 & any & port > 136)"#,
            &[
                "Line 1, char 15: warning: `port > 136 & port < 140` also matches a packet whose \
                 source port satisfies one side and destination port the other; write \
                 `port = 137-139` to require one port inside the range",
                "Line 1, char 28: warning: `any` matches every IP packet; combining it with \
                 other conditions is meaningless",
            ],
        ),
        (
            "dport <= 139 &\n dport >= 137",
            &["Line 1, char 1: warning: `dport >= 137 & dport <= 139` can be written `dport = 137-139`"],
        ),
        ("sport >= 137 & dport <= 139", &[]),
        ("port >= 140 & port <= 139", &[]),
        ("port >= 137 | port <= 139", &[]),
        ("any", &[]),
        ("port = 137-139", &[]),
    ];
    for (src, want) in cases {
        let c = compile(src, &dir).unwrap_or_else(|e| panic!("{src}: {e}"));
        let got: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(got, *want, "{src}");
    }
}

#[test]
fn replacing_users_changes_what_recompiles_match() {
    let mut dir = fixture();
    let src = r#"saddr = user:"[admins]""#;
    let p = P::v4("192.168.1.99", "8.8.8.8");
    let before = compile(src, &dir).expect("compiles").matcher;
    assert!(!before.matches_decoded(&p.meta(), &p.d));
    let users = [
        ("alice".to_string(), vec!["192.168.1.99".to_string()]),
        ("bob".to_string(), vec![]),
    ]
    .into_iter()
    .collect();
    dir.replace_users(users).expect("valid users");
    assert!(compile(src, &dir)
        .expect("compiles")
        .matcher
        .matches_decoded(&p.meta(), &p.d));
    // The old matcher keeps what it was compiled with.
    assert!(!before.matches_decoded(&p.meta(), &p.d));
    // Dropping a user a group names is refused and changes nothing.
    let only_alice = [("alice".to_string(), vec![])].into_iter().collect();
    assert!(dir.replace_users(only_alice).is_err());
    assert!(compile(src, &dir)
        .expect("compiles")
        .matcher
        .matches_decoded(&p.meta(), &p.d));
}

#[test]
fn metadata_only_matchers_ignore_the_frame() {
    let dir = fixture();
    let m = compile(r#"iif = "LAN" & direc = in"#, &dir)
        .expect("compiles")
        .matcher;
    let meta = PacketMeta {
        iif: Some(LAN),
        direction: Direction::In,
    };
    assert!(m.matches(&meta, &[]));
    assert!(!m.matches(&PacketMeta::default(), &[0xff; 60]));
}

/// The matcher decodes a real frame itself (`matches`, not `matches_decoded`).
#[test]
fn matches_decodes_a_real_frame() {
    let dir = fixture();
    // Ethernet + IPv4 (192.168.1.5 → 203.0.113.10) + TCP 50000 → 80, SYN.
    let mut frame = vec![0u8; 54];
    frame[12] = 0x08; // IPv4 ethertype
    frame[14] = 0x45;
    frame[16] = 0;
    frame[17] = 40; // total length
    frame[22] = 64; // TTL
    frame[23] = 6; // TCP
    frame[26..30].copy_from_slice(&[192, 168, 1, 5]);
    frame[30..34].copy_from_slice(&[203, 0, 113, 10]);
    frame[34..36].copy_from_slice(&50000u16.to_be_bytes());
    frame[36..38].copy_from_slice(&80u16.to_be_bytes());
    frame[46] = 0x50; // data offset 5
    frame[47] = f::SYN;
    let src =
        r#"oif = "Internet" & daddr = 203.0.113.10 & (dport = 80 | dport = 8080) & tcpfl = SYN"#;
    let m = compile(src, &dir).expect("compiles").matcher;
    assert!(m.matches(&PacketMeta::default(), &frame));
    frame[37] = 81;
    assert!(!m.matches(&PacketMeta::default(), &frame));
}
