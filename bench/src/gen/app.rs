//! Application payloads for UDP flows on well-known ports, shaped so that
//! tshark's dissectors accept them (a random payload on port 53 would be
//! a malformed DNS message, for instance).

use super::rng::Rng;

/// A payload of about `len` bytes (at least what the protocol needs) for
/// a UDP flow whose server port is `port`.
pub(super) fn udp_payload(port: u16, reply: bool, len: usize, rng: &mut Rng) -> Vec<u8> {
    let mut p = match port {
        53 | 5353 => dns(reply, rng),
        137 => nbns(rng),
        123 => {
            let mut v = vec![0u8; 48];
            v[0] = if reply { 0x24 } else { 0x23 };
            v
        }
        4500 => {
            // ESP in UDP: a non-zero SPI, then a sequence number.
            let mut v = vec![0u8; 8];
            v[0..4].copy_from_slice(&(0x0100_0000 | (rng.next_u32() >> 8)).to_be_bytes());
            v[4..8].copy_from_slice(&rng.next_u32().to_be_bytes());
            v
        }
        51820 => {
            // WireGuard transport data: type 4, receiver index, counter.
            let mut v = vec![4, 0, 0, 0];
            v.extend_from_slice(&rng.next_u32().to_le_bytes());
            v.extend_from_slice(&u64::from(rng.next_u32()).to_le_bytes());
            v
        }
        1900 => b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n".to_vec(),
        _ => Vec::new(),
    };
    // Extra bytes are padding the protocols above tolerate.
    if p.len() < len && !matches!(port, 53 | 5353 | 137 | 123 | 1900) {
        p.resize(len, 0);
    }
    p
}

const NAMES: &[&[u8]] = &[
    b"\x03www\x07example\x03com\x00",
    b"\x04mail\x07example\x03org\x00",
    b"\x03fs1\x04corp\x07example\x00",
    b"\x07updates\x07example\x03net\x00",
];

fn dns(reply: bool, rng: &mut Rng) -> Vec<u8> {
    let name = NAMES[rng.below(NAMES.len() as u64) as usize];
    let mut v = Vec::with_capacity(64);
    v.extend_from_slice(&(rng.next_u32() as u16).to_be_bytes());
    v.extend_from_slice(if reply { &[0x81, 0x80] } else { &[0x01, 0x00] });
    v.extend_from_slice(&[0, 1, 0, u8::from(reply), 0, 0, 0, 0]);
    v.extend_from_slice(name);
    v.extend_from_slice(&[0, 1, 0, 1]);
    if reply {
        // Answer: pointer to the question name, A IN, TTL 300, 4 bytes.
        v.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4]);
        v.extend_from_slice(&[93, 184, 216, 34]);
    }
    v
}

fn nbns(rng: &mut Rng) -> Vec<u8> {
    let mut v = Vec::with_capacity(50);
    v.extend_from_slice(&(rng.next_u32() as u16).to_be_bytes());
    v.extend_from_slice(&[0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0]);
    // "WORKGROUP" padded to 15 with spaces, suffix 0x00, first-level encoded.
    let mut raw = *b"WORKGROUP      \x00";
    raw[15] = 0;
    v.push(32);
    for b in raw {
        v.push(b'A' + (b >> 4));
        v.push(b'A' + (b & 0x0f));
    }
    v.push(0);
    v.extend_from_slice(&[0, 0x20, 0, 1]);
    v
}
