//! Property tests of the expression compiler: on random expressions over a
//! fixed directory and random packets, the compiled matcher agrees with the
//! naive reference interpreter; and the normalized form parses back to the
//! same tree.
//!
//! Addresses, ports and interfaces are drawn mostly from values at the edges
//! of the directory's groups, routes and the expressions' own literals, so
//! that off-by-one errors in interval sets or route painting show up.

use std::net::{Ipv4Addr, Ipv6Addr};

use ferrocap_dataplane::expr::ast::*;
use ferrocap_dataplane::expr::{
    compile, parse, reference, BatchMeta, Direction, Directory, IfIndex, InterfaceKind, PacketMeta,
};
use ferrocap_dataplane::wire::{decode, synth, Decoded, Depth, L3};
use proptest::prelude::*;
use proptest::sample::select;

fn directory() -> Directory {
    Directory::builder()
        .interface("Internet", InterfaceKind::Ethernet)
        .interface("LAN", InterfaceKind::Ethernet)
        .interface("Branch", InterfaceKind::VpnTunnel)
        .interface("Road", InterfaceKind::VpnClient)
        .interface("DMZ", InterfaceKind::Ethernet)
        .route("0.0.0.0/0", "Internet")
        .route("192.168.1.0/24", "LAN")
        .route("192.168.1.128/25", "DMZ")
        .route("10.20.0.0/16", "Branch")
        .route("10.20.5.0/255.255.255.0", "LAN")
        .route("10.99.0.0/16", "Road")
        .route("10.99.0.7", "DMZ")
        .route("fd00::/8", "LAN")
        .route("fd00:1::/32", "Branch")
        .route("2001:db8::5", "Road")
        .ip_group(
            "servers",
            &["192.168.1.10", "192.168.1.20-192.168.1.30", "2001:db8::/64"],
        )
        .ip_group("nets", &["10.0.0.0/255.0.0.0", "list:\"servers\""])
        .ip_group("v6only", &["fd00::/16", "fe80::1-fe80::ff"])
        .ip_group("empty", &[])
        .ip_group(
            "both",
            &["list:\"nets\"", "list:\"v6only\"", "172.16.0.0/12"],
        )
        .user("alice", &["192.168.1.50"])
        .user("bob", &["192.168.1.51", "fd00::51"])
        .user("carol", &[])
        .user_group("admins", &["alice", "bob"])
        .user_group("nobody", &[])
        .build()
        .expect("test directory is valid")
}

const V4_POOL: &[&str] = &[
    "0.0.0.0",
    "255.255.255.255",
    "9.255.255.255",
    "10.0.0.0",
    "10.20.0.0",
    "10.19.255.255",
    "10.20.4.255",
    "10.20.5.0",
    "10.20.5.255",
    "10.20.6.0",
    "10.20.255.255",
    "10.21.0.0",
    "10.99.0.6",
    "10.99.0.7",
    "10.99.0.8",
    "10.255.255.255",
    "11.0.0.0",
    "172.15.255.255",
    "172.16.0.0",
    "172.31.255.255",
    "172.32.0.0",
    "192.168.0.255",
    "192.168.1.0",
    "192.168.1.9",
    "192.168.1.10",
    "192.168.1.11",
    "192.168.1.19",
    "192.168.1.20",
    "192.168.1.30",
    "192.168.1.31",
    "192.168.1.50",
    "192.168.1.51",
    "192.168.1.127",
    "192.168.1.128",
    "192.168.1.255",
    "192.168.2.0",
    "203.0.113.10",
];

const V6_POOL: &[&str] = &[
    "::",
    "::1",
    "2001:db8::",
    "2001:db8::4",
    "2001:db8::5",
    "2001:db8::6",
    "2001:db8::ffff:ffff:ffff:ffff",
    "2001:db8:0:1::",
    "fcff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "fd00::",
    "fd00::51",
    "fd00:0:ffff:ffff:ffff:ffff:ffff:ffff",
    "fd00:1::",
    "fd00:1:ffff:ffff:ffff:ffff:ffff:ffff",
    "fd00:2::",
    "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "fe00::",
    "fe80::",
    "fe80::1",
    "fe80::ff",
    "fe80::100",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
];

const PORT_POOL: &[u16] = &[
    0, 1, 52, 53, 54, 79, 80, 81, 136, 137, 138, 139, 140, 444, 445, 446, 1023, 1024, 8080, 65534,
    65535,
];

fn v4() -> impl Strategy<Value = u32> {
    let pool: Vec<u32> = V4_POOL
        .iter()
        .map(|s| u32::from(s.parse::<Ipv4Addr>().expect("pool")))
        .collect();
    prop_oneof![
        6 => select(pool.clone()),
        2 => (select(pool), -1i64..=1).prop_map(|(a, d)| (i64::from(a) + d).clamp(0, i64::from(u32::MAX)) as u32),
        1 => any::<u32>(),
    ]
}

fn v6() -> impl Strategy<Value = u128> {
    let pool: Vec<u128> = V6_POOL
        .iter()
        .map(|s| u128::from(s.parse::<Ipv6Addr>().expect("pool")))
        .collect();
    prop_oneof![
        6 => select(pool.clone()),
        2 => (select(pool), any::<bool>()).prop_map(|(a, up)| if up { a.saturating_add(1) } else { a.saturating_sub(1) }),
        1 => any::<u128>(),
    ]
}

fn port() -> impl Strategy<Value = u16> {
    prop_oneof![4 => select(PORT_POOL.to_vec()), 1 => any::<u16>()]
}

fn addr_value() -> impl Strategy<Value = AddrValue> {
    let name = |s: &str| s.to_string();
    let user = |(n, g): (&str, bool)| UserRef {
        name: n.to_string(),
        is_group: g,
        span: Span::default(),
    };
    prop_oneof![
        v4().prop_map(|a| AddrValue::V4Host(a.into())),
        (v4(), 0u8..=32).prop_map(|(a, len)| AddrValue::V4Prefix {
            addr: a.into(),
            len
        }),
        (v4(), 0u32..=32).prop_map(|(a, len)| AddrValue::V4Mask {
            addr: a.into(),
            mask: u32::MAX.checked_shl(32 - len).unwrap_or(0).into(),
        }),
        (v4(), v4()).prop_map(|(a, b)| AddrValue::V4Range {
            first: a.min(b).into(),
            last: a.max(b).into(),
        }),
        v6().prop_map(|a| AddrValue::V6Host(a.into())),
        (v6(), 0u8..=128).prop_map(|(a, len)| AddrValue::V6Prefix {
            addr: a.into(),
            len
        }),
        (v6(), v6()).prop_map(|(a, b)| AddrValue::V6Range {
            first: a.min(b).into(),
            last: a.max(b).into(),
        }),
        select(vec!["servers", "nets", "v6only", "empty", "both"]).prop_map(move |n| {
            AddrValue::List {
                name: name(n),
                span: Span::default(),
            }
        }),
        proptest::collection::vec(
            select(vec![
                ("alice", false),
                ("bob", false),
                ("carol", false),
                ("admins", true),
                ("nobody", true),
            ]),
            1..4
        )
        .prop_map(move |items| AddrValue::Users(items.into_iter().map(user).collect())),
    ]
}

fn flags() -> impl Strategy<Value = Vec<FlagTerm>> {
    let sign = select(vec![
        None,
        Some(FlagSign::Bare),
        Some(FlagSign::Set),
        Some(FlagSign::Clear),
    ]);
    let special = select(vec![
        None,
        Some((TcpFlag::All, FlagSign::Bare)),
        Some((TcpFlag::All, FlagSign::Set)),
        Some((TcpFlag::All, FlagSign::Clear)),
        Some((TcpFlag::None, FlagSign::Bare)),
    ]);
    (special, proptest::collection::vec(sign, 6)).prop_map(|(special, signs)| {
        let six = [
            TcpFlag::Fin,
            TcpFlag::Syn,
            TcpFlag::Rst,
            TcpFlag::Psh,
            TcpFlag::Ack,
            TcpFlag::Urg,
        ];
        let term = |flag, sign| FlagTerm {
            flag,
            sign,
            span: Span::default(),
        };
        let mut terms = Vec::new();
        let mut forced: Option<bool> = None; // Some(true): all set; Some(false): all clear
        if let Some((flag, sign)) = special {
            forced = Some(flag == TcpFlag::All && sign != FlagSign::Clear);
            terms.push(term(flag, sign));
        }
        for (flag, sign) in six.into_iter().zip(signs) {
            let Some(sign) = sign else { continue };
            let wants_set = sign != FlagSign::Clear;
            if forced.is_some_and(|f| f != wants_set) {
                continue;
            }
            terms.push(term(flag, sign));
        }
        if terms.is_empty() {
            terms.push(term(TcpFlag::Syn, FlagSign::Bare));
        }
        terms
    })
}

fn condition() -> impl Strategy<Value = CondKind> {
    let eq = select(vec![EqOp::Eq, EqOp::Ne]);
    let cmp = select(vec![
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ]);
    let if_value = prop_oneof![
        select(vec!["Internet", "LAN", "Branch", "Road", "DMZ"])
            .prop_map(|n| IfValue::Name(n.to_string())),
        Just(IfValue::VpnClient),
        Just(IfValue::Vpn),
        select(vec!["Branch", "Road"]).prop_map(|n| IfValue::VpnNamed(n.to_string())),
    ];
    prop_oneof![
        1 => Just(CondKind::Any),
        6 => (select(vec![AddrVar::Addr, AddrVar::Saddr, AddrVar::Daddr]), eq.clone(), addr_value())
            .prop_map(|(var, op, value)| CondKind::Addr { var, op, value, value_span: Span::default() }),
        4 => (select(vec![PortVar::Port, PortVar::Sport, PortVar::Dport]), cmp, port())
            .prop_map(|(var, op, p)| CondKind::Port { var, op, value: PortValue::Single(p) }),
        2 => (select(vec![PortVar::Port, PortVar::Sport, PortVar::Dport]), eq.clone(), port(), port())
            .prop_map(|(var, op, a, b)| CondKind::Port {
                var,
                op: if op == EqOp::Eq { CmpOp::Eq } else { CmpOp::Ne },
                value: PortValue::Range(a.min(b), a.max(b)),
            }),
        4 => (select(vec![IfVar::If, IfVar::Iif, IfVar::Oif]), eq, if_value)
            .prop_map(|(var, op, value)| CondKind::Iface { var, op, value, value_span: Span::default() }),
        1 => select(vec![DirecValue::In, DirecValue::Out]).prop_map(CondKind::Direc),
        2 => flags().prop_map(CondKind::TcpFlags),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    sized_expr(5, 24)
}

/// Expressions big enough that most exceed the truth-table limit and use
/// the branch program.
fn big_expr() -> impl Strategy<Value = Expr> {
    sized_expr(7, 64)
}

fn sized_expr(depth: u32, size: u32) -> impl Strategy<Value = Expr> {
    let leaf = condition().prop_map(|kind| {
        Expr::Cond(Condition {
            kind,
            span: Span::default(),
        })
    });
    leaf.prop_recursive(depth, size, 2, |inner| {
        (inner.clone(), inner, any::<bool>()).prop_map(|(l, r, and)| {
            let (lhs, rhs, span) = (Box::new(l), Box::new(r), Span::default());
            if and {
                Expr::And { lhs, rhs, span }
            } else {
                Expr::Or { lhs, rhs, span }
            }
        })
    })
}

fn packet() -> impl Strategy<Value = (PacketMeta, Decoded)> {
    let l3 = prop_oneof![
        1 => Just(L3::None),
        4 => (v4(), v4()).prop_map(|(src, dst)| L3::V4 { src, dst }),
        2 => (v6(), v6()).prop_map(|(src, dst)| L3::V6 { src, dst }),
    ];
    let ports = prop_oneof![1 => Just(None), 3 => (port(), port()).prop_map(Some)];
    let flags = prop_oneof![1 => Just(None), 2 => any::<u8>().prop_map(Some)];
    let iif = prop_oneof![1 => Just(None), 4 => (0u16..7).prop_map(|i| Some(IfIndex(i)))];
    let dir = select(vec![Direction::In, Direction::Out, Direction::Unknown]);
    (l3, ports, flags, iif, dir).prop_map(|(l3, ports, tcp_flags, iif, direction)| {
        (
            PacketMeta { iif, direction },
            Decoded {
                l3,
                ports,
                tcp_flags,
                ..Decoded::default()
            },
        )
    })
}

/// No tag, one, or two (QinQ).
fn vlan_tags() -> impl Strategy<Value = (Option<u16>, Option<u16>)> {
    select(vec![(None, None), (Some(5), None), (Some(7), Some(9))])
}

/// The capture paths: the frame built for each packet, matched one at a
/// time and in batches (which run the narrowed sub-plans and their direct
/// shapes, not the full table), against the reference on what `decode`
/// reads of the same frame.
fn frames_agree(
    e: &Expr,
    packets: &[(PacketMeta, Decoded)],
    vlans: &[(Option<u16>, Option<u16>)],
) -> Result<(), TestCaseError> {
    let dir = directory();
    let src = e.to_string();
    let compiled =
        compile(&src, &dir).map_err(|err| TestCaseError::fail(format!("{src}: {err}")))?;
    let m = &compiled.matcher;
    let frames: Vec<Vec<u8>> = packets
        .iter()
        .zip(vlans)
        .map(|((_, d), &(outer_vlan, inner_vlan))| {
            synth::frame(&Decoded {
                outer_vlan,
                inner_vlan,
                ..*d
            })
        })
        .collect();
    let views: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    let metas: Vec<PacketMeta> = packets.iter().map(|(meta, _)| *meta).collect();
    let each = m.matches_batch(BatchMeta::Each(&metas), &views);
    let same = m.matches_batch(BatchMeta::Same(metas[0]), &views);
    for (i, (meta, frame)) in metas.iter().zip(&frames).enumerate() {
        let d = decode(frame, Depth::Transport);
        let want = reference::eval(e, &dir, meta, &d)
            .map_err(|err| TestCaseError::fail(format!("reference: {err}")))?;
        prop_assert_eq!(
            m.matches(meta, frame),
            want,
            "{}\n{:?} {:02x?}\nplan:\n{}",
            src,
            meta,
            frame,
            m
        );
        prop_assert_eq!((each >> i) & 1 == 1, want, "{} (batch, frame {})", src, i);
        let want_same = reference::eval(e, &dir, &metas[0], &d)
            .map_err(|err| TestCaseError::fail(format!("reference: {err}")))?;
        prop_assert_eq!(
            (same >> i) & 1 == 1,
            want_same,
            "{} (batch with one meta, frame {})",
            src,
            i
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn matcher_agrees_with_reference(
        e in expr(),
        packets in proptest::collection::vec(packet(), 24),
    ) {
        let dir = directory();
        let src = e.to_string();
        let compiled = compile(&src, &dir).map_err(|err| TestCaseError::fail(format!("{src}: {err}")))?;
        for (meta, d) in &packets {
            let want = reference::eval(&e, &dir, meta, d)
                .map_err(|err| TestCaseError::fail(format!("reference: {err}")))?;
            let got = compiled.matcher.matches_decoded(meta, d);
            prop_assert_eq!(got, want, "{}\n{:?} {:?}\nplan:\n{}", src, meta, d, compiled.matcher);
        }
    }

    /// The capture paths: the frame built for each packet, matched one at
    /// a time and in batches (which run the narrowed sub-plans and their
    /// direct shapes, not the full table), against the reference on what
    /// `decode` reads of the same frame.
    #[test]
    fn frame_matching_agrees_with_reference(
        e in expr(),
        packets in proptest::collection::vec(packet(), 32),
        vlans in proptest::collection::vec(vlan_tags(), 32),
    ) {
        frames_agree(&e, &packets, &vlans)?;
    }

    /// The address-and-port plans (`daddr = X & dport = Y`, the second
    /// seed example's shape after narrowing), whose batch loop has its own
    /// paths for one interval on one side: random plans of that shape over
    /// packets whose addresses lie at the edges of the plan's.
    #[test]
    fn address_and_port_plans_agree_with_reference(
        addr_var in select(vec!["saddr", "daddr", "addr"]),
        form in 0..3usize,
        a in v4(),
        b in v4(),
        port_var in select(vec!["sport", "dport", "port"]),
        op in select(vec!["=", ">=", "<=", "!="]),
        p in port(),
        q in proptest::option::of(port()),
        packets in proptest::collection::vec(packet(), 32),
        vlans in proptest::collection::vec(vlan_tags(), 32),
    ) {
        let (lo, hi) = (Ipv4Addr::from(a.min(b)), Ipv4Addr::from(a.max(b)));
        let value = match form {
            0 => lo.to_string(),
            1 => format!("{lo}/24"),
            _ => format!("{lo}-{hi}"),
        };
        let ports = match q {
            Some(q) => format!("({port_var} {op} {p} | {port_var} = {q})"),
            None => format!("{port_var} {op} {p}"),
        };
        let text = format!("{addr_var} = {value} & {ports}");
        let e = parse(&text).map_err(|err| TestCaseError::fail(format!("{text}: {err}")))?;
        // Most packets get an address next to the plan's, on either side.
        let packets: Vec<(PacketMeta, Decoded)> = packets
            .into_iter()
            .enumerate()
            .map(|(i, (meta, d))| {
                let near = [a, b, a.wrapping_add(1), b.wrapping_sub(1)][i % 4];
                let l3 = match (i % 3, d.l3) {
                    (0, L3::V4 { src, .. }) => L3::V4 { src, dst: near },
                    (1, L3::V4 { dst, .. }) => L3::V4 { src: near, dst },
                    (_, l3) => l3,
                };
                (meta, Decoded { l3, ..d })
            })
            .collect();
        frames_agree(&e, &packets, &vlans)?;
    }

    #[test]
    fn big_matchers_agree_with_reference(
        e in big_expr(),
        packets in proptest::collection::vec(packet(), 24),
    ) {
        let dir = directory();
        let src = e.to_string();
        let compiled = compile(&src, &dir).map_err(|err| TestCaseError::fail(format!("{src}: {err}")))?;
        for (meta, d) in &packets {
            let want = reference::eval(&e, &dir, meta, d)
                .map_err(|err| TestCaseError::fail(format!("reference: {err}")))?;
            prop_assert_eq!(compiled.matcher.matches_decoded(meta, d), want, "{}\n{:?} {:?}", src, meta, d);
        }
    }

    #[test]
    fn normalized_form_round_trips(e in expr()) {
        let text = e.to_string();
        let parsed = parse(&text).map_err(|err| TestCaseError::fail(format!("{text}: {err}")))?;
        prop_assert_eq!(&parsed, &e);
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn parse_never_panics_on_near_miss_text(
        e in expr(),
        cut in any::<prop::sample::Index>(),
        junk in select(vec!["", "(", ")", "&", "|", "=", "\"", "-", "/", ":", "\n", "é", "999999"]),
    ) {
        let text = e.to_string();
        let mut at = cut.index(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let mutated = format!("{}{}{}", &text[..at], junk, &text[at..]);
        if let Err(err) = compile(&mutated, &directory()) {
            prop_assert!(err.line >= 1 && err.char >= 1);
            let head = format!("Line {}, char {}: ", err.line, err.char);
            prop_assert!(err.to_string().starts_with(&head));
        }
    }
}
