//! Cross-check against Wireshark: for each Kerio expression in the table and
//! its equivalent tshark display filter, `ferrocap capture` and `tshark -Y`
//! must select exactly the same frames of a generated capture.
//!
//! The capture (`ferrocap-bench`'s `mix` preset) has four named pcapng
//! interfaces with in/out flags, VLAN and QinQ tags, IPv4 and IPv6 fragments
//! (first and later), IPv6 extension-header chains, ARP, ICMP and ICMPv6, and
//! a few snaplen-truncated frames. tshark runs with reassembly off, as the
//! appliance sees single frames.
//!
//! Filters use the `#1` layer operator so that only the outermost header
//! counts, as it does for ferrocap.

mod common;

use std::path::Path;
use std::process::Command;

use common::{tshark, tshark_frames, write_capture};

/// The config: interfaces (two VPN kinds), routes for `oif`, groups, users.
const CONFIG: &str = r#"
[[interface]]
name = "Internet"
[[interface]]
name = "LAN"
[[interface]]
name = "Branch"
kind = "vpn_tunnel"
[[interface]]
name = "Roadwarriors"
kind = "vpn_client"

[[route]]
prefix = "192.168.1.0/24"
interface = "LAN"
[[route]]
prefix = "10.0.0.0/8"
interface = "Branch"
[[route]]
prefix = "10.1.0.0/16"
interface = "Roadwarriors"
[[route]]
prefix = "0.0.0.0/0"
interface = "Internet"
[[route]]
prefix = "2001:db8:1::/48"
interface = "LAN"
[[route]]
prefix = "2001:db8:1:2::/64"
interface = "Roadwarriors"
[[route]]
prefix = "::/0"
interface = "Internet"

[ip_groups]
web = ["192.168.1.10-192.168.1.15", "2001:db8:ffff::/48"]
servers = ["10.0.0.53", "8.8.8.8", 'list:"web"']

[users]
alice = ["192.168.1.12"]
bob = ["10.1.2.29", "2001:db8:1:1::11"]
carol = ["172.16.0.0/12"]

[user_groups]
staff = ["bob", "carol"]
"#;

// tshark building blocks for the routes above.
const OIF_LAN: &str = "(ip.dst#1 == 192.168.1.0/24 or (ipv6.dst#1 == 2001:db8:1::/48 and !(ipv6.dst#1 == 2001:db8:1:2::/64)))";
const OIF_ROAD: &str = "(ip.dst#1 == 10.1.0.0/16 or ipv6.dst#1 == 2001:db8:1:2::/64)";
const OIF_BRANCH: &str = "(ip.dst#1 == 10.0.0.0/8 and !(ip.dst#1 == 10.1.0.0/16))";
const OIF_INTERNET: &str =
    "((ip and !(ip.dst#1 == 192.168.1.0/24 or ip.dst#1 == 10.0.0.0/8)) or (ipv6 and !(ipv6.dst#1 == 2001:db8:1::/48)))";
/// A complete TCP/UDP header was read (the outermost one, of an unfragmented
/// packet or a first fragment). tshark dissects a partial header, ferrocap
/// gives it no ports; `tcp.urgent_pointer` is the last field of the fixed
/// 20-byte TCP header.
const L4: &str = "(!icmp and !icmpv6 and (tcp.urgent_pointer or udp.checksum))";

fn table() -> Vec<(&'static str, String)> {
    let port = |op: &str, v: u32| {
        format!("({L4} and (tcp.srcport {op} {v} or tcp.dstport {op} {v} or udp.srcport {op} {v} or udp.dstport {op} {v}))")
    };
    let sport =
        |op: &str, v: u32| format!("({L4} and (tcp.srcport {op} {v} or udp.srcport {op} {v}))");
    let dport =
        |op: &str, v: u32| format!("({L4} and (tcp.dstport {op} {v} or udp.dstport {op} {v}))");
    let flag = |f: &str| format!("({L4} and tcp.flags.{f} == 1)");
    vec![
        // The seed's examples.
        (
            r#"if = "Internet" & (port >= 137 & port <= 139 | port = 445)"#,
            format!(
                "(frame.interface_name == \"Internet\" or {OIF_INTERNET}) and (({} and {}) or {})",
                port(">=", 137),
                port("<=", 139),
                port("==", 445)
            ),
        ),
        (
            r#"oif = "Internet" & daddr = 8.8.8.8 & (dport = 80 | dport = 8080)"#,
            format!("{OIF_INTERNET} and ip.dst#1 == 8.8.8.8 and ({} or {})", dport("==", 80), dport("==", 8080)),
        ),
        ("direc = in & tcpfl = SYN", format!("frame.packet_flags_direction == 1 and {}", flag("syn"))),
        (
            "tcpfl = SYN +ACK -RST",
            format!("({L4} and tcp.flags.syn == 1 and tcp.flags.ack == 1 and tcp.flags.reset == 0)"),
        ),
        // any, and every address form.
        ("any", "ip or ipv6".into()),
        ("addr = 192.168.1.15", "ip.addr#1 == 192.168.1.15".into()),
        ("saddr = 10.0.0.0/8", "ip.src#1 == 10.0.0.0/8".into()),
        ("daddr = 172.16.0.0/255.240.0.0", "ip.dst#1 == 172.16.0.0/12".into()),
        ("saddr = 192.168.1.10-192.168.1.20", "ip.src#1 >= 192.168.1.10 and ip.src#1 <= 192.168.1.20".into()),
        ("addr = 2001:db8:1:1::11", "ipv6.addr#1 == 2001:db8:1:1::11".into()),
        ("daddr = 2001:db8:ffff::/48", "ipv6.dst#1 == 2001:db8:ffff::/48".into()),
        (
            "saddr = 2001:db8:1::10-2001:db8:1:1::ffff",
            "ipv6.src#1 >= 2001:db8:1::10 and ipv6.src#1 <= 2001:db8:1:1::ffff".into(),
        ),
        (
            r#"daddr = list:"servers""#,
            "ip.dst#1 == 10.0.0.53 or ip.dst#1 == 8.8.8.8 or (ip.dst#1 >= 192.168.1.10 and ip.dst#1 <= 192.168.1.15) or ipv6.dst#1 == 2001:db8:ffff::/48".into(),
        ),
        (
            r#"saddr = user:"alice,[staff]""#,
            "ip.src#1 == 192.168.1.12 or ip.src#1 == 10.1.2.29 or ip.src#1 == 172.16.0.0/12 or ipv6.src#1 == 2001:db8:1:1::11".into(),
        ),
        ("saddr != 192.168.1.0/24", "ip and !(ip.src#1 == 192.168.1.0/24)".into()),
        // Ports: every operator, the range form, sport and dport.
        ("port = 53", port("==", 53)),
        ("port != 443", port("!=", 443)),
        ("port < 1024", port("<", 1024)),
        ("port <= 80", port("<=", 80)),
        ("port > 49151", port(">", 49151)),
        ("port >= 8080", port(">=", 8080)),
        (
            "port = 137-139",
            format!("({L4} and (tcp.srcport in {{137..139}} or tcp.dstport in {{137..139}} or udp.srcport in {{137..139}} or udp.dstport in {{137..139}}))"),
        ),
        ("sport = 443", sport("==", 443)),
        ("dport != 80", dport("!=", 80)),
        ("dport < 100 | sport > 60000", format!("{} or {}", dport("<", 100), sport(">", 60000))),
        // Interfaces and VPNs.
        (r#"iif = "LAN""#, "frame.interface_name == \"LAN\"".into()),
        (r#"oif = "LAN""#, OIF_LAN.into()),
        (r#"if = "LAN""#, format!("frame.interface_name == \"LAN\" or {OIF_LAN}")),
        (
            "if = vpn",
            format!("frame.interface_name == \"Branch\" or frame.interface_name == \"Roadwarriors\" or {OIF_BRANCH} or {OIF_ROAD}"),
        ),
        ("iif = vpnclient", "frame.interface_name == \"Roadwarriors\"".into()),
        (r#"oif = vpn:"Branch""#, OIF_BRANCH.into()),
        ("direc = out", "frame.packet_flags_direction == 2".into()),
        // TCP flags.
        ("tcpfl = ALL", format!("({L4} and tcp.flags & 0x3f == 0x3f)")),
        ("tcpfl = NONE", format!("({L4} and tcp.flags & 0x3f == 0)")),
        ("tcpfl = FIN +ACK", format!("({L4} and tcp.flags.fin == 1 and tcp.flags.ack == 1)")),
        ("tcpfl = -ACK", format!("({L4} and tcp and tcp.flags.ack == 0)")),
        ("tcpfl = URG PSH", format!("({L4} and tcp.flags.urg == 1 and tcp.flags.push == 1)")),
        // Precedence, parentheses, free white space, case.
        (
            "dport=53&saddr=10.0.0.0/8|tcpfl=rst",
            format!("({} and ip.src#1 == 10.0.0.0/8) or {}", dport("==", 53), flag("reset")),
        ),
        (
            "DPORT = 53 & (SADDR = 10.0.0.0/8 | TCPFL = RST)",
            format!("{} and (ip.src#1 == 10.0.0.0/8 or {})", dport("==", 53), flag("reset")),
        ),
        // Port tests the compiler merges (two ORed ranges on one variable)
        // next to other port tests on it.
        (
            "(dport = 80 | dport = 443) & sport >= 1024 | sport = 53",
            format!(
                "(({} or {}) and {}) or {}",
                dport("==", 80),
                dport("==", 443),
                sport(">=", 1024),
                sport("==", 53)
            ),
        ),
        (
            r#"if = "Internet" & ((dport = 80 | dport = 8080) & sport >= 1024 | sport = 53)"#,
            format!(
                "(frame.interface_name == \"Internet\" or {OIF_INTERNET}) and ((({} or {}) and {}) or {})",
                dport("==", 80),
                dport("==", 8080),
                sport(">=", 1024),
                sport("==", 53)
            ),
        ),
        (
            "(dport != 0 | dport >= 1023) & (sport >= 49152 | dport <= 80)",
            format!(
                "({} or {}) and ({} or {})",
                dport("!=", 0),
                dport(">=", 1023),
                sport(">=", 49152),
                dport("<=", 80)
            ),
        ),
        (
            "(direc = in | direc = out) & addr = 192.168.1.0/24 & any",
            "(frame.packet_flags_direction == 1 or frame.packet_flags_direction == 2) and ip.addr#1 == 192.168.1.0/24".into(),
        ),
    ]
}

#[test]
fn ferrocap_and_tshark_select_the_same_frames() {
    if !tshark::available() {
        panic!("tshark is required for this test (apt-get install tshark); deploy/setup.sh --test installs it");
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mix.pcapng");
    let stats = write_capture(&input, 7, 6000);
    // The capture must hold the cases the table is meant to cover.
    for (what, n) in [
        ("vlan", stats.vlan),
        ("qinq", stats.qinq),
        ("first fragments", stats.first_fragments),
        ("later fragments", stats.later_fragments),
        ("ipv6 ext headers", stats.ipv6_ext),
        ("arp", stats.arp),
        ("icmp", stats.icmp),
        ("truncated", stats.truncated),
    ] {
        assert!(n > 0, "the generated capture has no {what}");
    }
    let config = dir.path().join("ferrocap.toml");
    std::fs::write(&config, CONFIG).unwrap();

    let rows = table();
    let mut failures = Vec::new();
    let mut selected_total = 0;
    for (i, (kerio, filter)) in rows.iter().enumerate() {
        let out = dir.path().join(format!("out{i}.pcapng"));
        let run = Command::new(env!("CARGO_BIN_EXE_ferrocap"))
            .args(["capture", "--config"])
            .arg(&config)
            .arg("-r")
            .arg(&input)
            .arg("-w")
            .arg(&out)
            .arg(kerio)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "ferrocap capture failed for `{kerio}`: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let ours = tshark_frames(&out, None);
        let theirs = tshark_frames(&input, Some(filter));
        selected_total += theirs.len();
        if ours != theirs {
            failures.push(describe(kerio, filter, &ours, &theirs, &input));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows differ:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
    // A table that selects nothing would prove nothing.
    assert!(
        selected_total > rows.len() * 10,
        "the table selected only {selected_total} frames in all"
    );
}

fn describe(kerio: &str, filter: &str, ours: &[String], theirs: &[String], input: &Path) -> String {
    let only_ours: Vec<_> = ours
        .iter()
        .filter(|k| !theirs.contains(k))
        .take(5)
        .collect();
    let only_theirs: Vec<_> = theirs
        .iter()
        .filter(|k| !ours.contains(k))
        .take(5)
        .collect();
    format!(
        "  `{kerio}` vs `{filter}`: ferrocap {} frames, tshark {}; only ferrocap: {only_ours:?}; only tshark: {only_theirs:?} (input {})",
        ours.len(),
        theirs.len(),
        input.display()
    )
}
