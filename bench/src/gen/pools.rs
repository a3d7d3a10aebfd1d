//! The fixed address pools flows draw from, most popular first.

/// IPv4 `(clients, servers)`. Clients are private (192.168.1.10–20,
/// 10/8, 172.16/12); servers mix public-looking addresses with internal
/// ones (a file server, a resolver).
pub(super) fn v4() -> (Vec<[u8; 4]>, Vec<[u8; 4]>) {
    let mut clients = Vec::new();
    for i in 0..40u8 {
        match i % 4 {
            0 | 2 => clients.push([192, 168, 1, 10 + (i / 2) % 11]),
            1 => clients.push([10, i % 3, 1 + i / 4, 20 + i]),
            _ => clients.push([172, 16 + i % 16, i / 4, 5 + i]),
        }
    }
    clients.dedup();
    let servers = vec![
        [142, 250, 74, 46],
        [192, 168, 1, 15],
        [8, 8, 8, 8],
        [93, 184, 216, 34],
        [10, 0, 0, 53],
        [1, 1, 1, 1],
        [151, 101, 1, 69],
        [140, 82, 112, 3],
        [172, 16, 0, 10],
        [104, 16, 132, 229],
        [13, 107, 42, 14],
        [203, 0, 113, 7],
        [192, 168, 1, 20],
        [52, 84, 150, 11],
        [198, 51, 100, 23],
        [185, 199, 108, 153],
        [31, 13, 72, 36],
        [9, 9, 9, 9],
        [10, 1, 1, 80],
        [17, 253, 144, 10],
        [23, 45, 67, 89],
        [81, 2, 194, 129],
        [77, 75, 79, 53],
        [195, 113, 232, 80],
    ];
    (clients, servers)
}

fn v6addr(prefix: [u16; 3], host: u16) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0..2].copy_from_slice(&0x2001u16.to_be_bytes());
    a[2..4].copy_from_slice(&0x0db8u16.to_be_bytes());
    a[4..6].copy_from_slice(&prefix[0].to_be_bytes());
    a[6..8].copy_from_slice(&prefix[1].to_be_bytes());
    a[8..10].copy_from_slice(&prefix[2].to_be_bytes());
    a[14..16].copy_from_slice(&host.to_be_bytes());
    a
}

/// IPv6 `(clients, servers)`, all inside 2001:db8::/32.
pub(super) fn v6() -> (Vec<[u8; 16]>, Vec<[u8; 16]>) {
    let clients = (0..32u16)
        .map(|i| v6addr([1, i % 4, 0], 0x10 + i))
        .collect();
    let servers = (0..24u16)
        .map(|i| {
            v6addr(
                [0xffff, i % 3, 0],
                [0x443, 0x80, 0x53, 0x1, 0x25, 0x22][usize::from(i % 6)] + i,
            )
        })
        .collect();
    (clients, servers)
}

/// Whether an address sits on the local side (private IPv4 or the
/// 2001:db8:1::/48 client net), so it gets its own MAC instead of the
/// router's.
pub(super) fn is_local(a: &[u8]) -> bool {
    match a {
        [10, ..] | [192, 168, ..] => true,
        [172, b, ..] => (16..32).contains(b),
        [0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, ..] => true,
        _ => false,
    }
}
