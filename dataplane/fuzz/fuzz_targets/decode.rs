//! Fuzzes `wire::decode` at every depth and every view's checked
//! constructor and accessors: none may panic on any byte sequence, and the
//! deeper decodes must agree with the shallower ones on the fields both fill.
#![no_main]
use ferrocap_dataplane::wire::{
    self, decode, ethernet, icmp, ipv4, ipv6, tcp, udp, Decoded, Depth,
};
use libfuzzer_sys::fuzz_target;

fn views(data: &[u8]) {
    if let Ok(p) = ethernet::Packet::new_checked(data) {
        let _ = (p.dst_addr(), p.src_addr(), p.ethertype(), p.payload());
    }
    if let Ok(p) = ethernet::VlanTag::new_checked(data) {
        let _ = (p.tci(), p.vlan_id(), p.priority(), p.drop_eligible());
        let _ = (p.ethertype(), p.payload());
    }
    if let Ok(p) = ipv4::Packet::new_checked(data) {
        let _ = (
            p.version(),
            p.header_len(),
            p.dscp(),
            p.ecn(),
            p.total_len(),
        );
        let _ = (p.ident(), p.dont_frag(), p.more_frags(), p.frag_offset());
        let _ = (p.fragment(), p.ttl(), p.protocol(), p.checksum());
        let _ = (p.src_addr(), p.dst_addr(), p.options(), p.payload());
    }
    if let Ok(p) = ipv6::Packet::new_checked(data) {
        let _ = (
            p.version(),
            p.traffic_class(),
            p.flow_label(),
            p.payload_len(),
        );
        let _ = (p.hop_limit(), p.src_addr(), p.dst_addr());
        let chain = ipv6::walk_extension_headers(p.next_header(), p.payload());
        if chain.protocol.is_some() {
            assert!(chain.offset <= p.payload().len());
        }
    }
    if let Ok(p) = ipv6::ExtHeader::new_checked(data) {
        let _ = (p.next_header(), p.header_len(), p.data(), p.payload());
    }
    if let Ok(p) = ipv6::AuthHeader::new_checked(data) {
        let _ = (p.next_header(), p.header_len(), p.payload());
    }
    if let Ok(p) = ipv6::FragmentHeader::new_checked(data) {
        let _ = (p.next_header(), p.frag_offset(), p.more_frags());
        let _ = (p.ident(), p.fragment(), p.payload());
    }
    if let Ok(p) = tcp::Packet::new_checked(data) {
        let _ = (p.src_port(), p.dst_port(), p.seq_number(), p.ack_number());
        let _ = (p.header_len(), p.is_header_complete(), p.flags(), p.ns());
        let _ = (p.window_len(), p.checksum(), p.urgent_at());
        let _ = (p.options(), p.payload());
    }
    if let Ok(p) = udp::Packet::new_checked(data) {
        let _ = (
            p.src_port(),
            p.dst_port(),
            p.length(),
            p.checksum(),
            p.payload(),
        );
    }
    if let Ok(p) = icmp::Packet::new_checked(data) {
        let _ = (p.msg_type(), p.msg_code(), p.checksum(), p.body());
    }
}

fn link(d: &Decoded) -> impl PartialEq + core::fmt::Debug {
    (
        d.dst_mac,
        d.src_mac,
        d.outer_vlan,
        d.inner_vlan,
        d.ethertype,
    )
}

fn network(d: &Decoded) -> impl PartialEq + core::fmt::Debug {
    (d.l3, d.ip_proto, d.fragment, d.l3_offset)
}

fuzz_target!(|data: &[u8]| {
    assert_eq!(decode(data, Depth::Metadata), Decoded::default());
    let l = decode(data, Depth::Link);
    let n = decode(data, Depth::Network);
    let t = decode(data, Depth::Transport);
    assert_eq!(link(&l), link(&n));
    assert_eq!(link(&n), link(&t));
    assert_eq!(network(&n), network(&t));
    assert_eq!(l.l3, wire::L3::None);
    assert_eq!(n.ports, None);
    if let Some(offset) = t.l4_offset {
        assert!(usize::from(offset) <= data.len());
    }
    views(data);
});
