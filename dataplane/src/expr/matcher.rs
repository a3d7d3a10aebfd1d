//! The compiled matcher: packet tests combined by a truth table or, for
//! large expressions, by a flat branch program.
//!
//! Two plans, picked at compile time:
//! - **Table** (up to [`TABLE_MAX_TESTS`] distinct tests, the common case):
//!   every test runs, mostly branch-free, each result sets one bit of an
//!   index, and the index looks up the answer in a precomputed truth table.
//!   The control flow is the same for every packet, so nothing is
//!   mispredicted on `&`/`|` — on mixed traffic this is several times faster
//!   than short-circuit evaluation.
//! - **Program**: nodes of `test ? on_true : on_false`; every jump goes
//!   strictly forward (to a node, accept or reject), so `&` and `|`
//!   short-circuit and the walk always ends.
//!
//! Promises:
//! - [`Matcher::matches_decoded`] never allocates and never panics, and runs
//!   each test at most once per packet.
//! - [`Matcher::depth`] is the least [`Depth`] the tests need, so
//!   [`Matcher::matches`] decodes no further than necessary.
//! - Address tests are binary searches over sorted, merged interval sets
//!   (linear scans for up to four intervals).
//! - [`Matcher::matches_batch`] gives, bit for bit, the answers of
//!   [`Matcher::matches`] on each frame of a batch (tested on random
//!   frames and metadata), looking at the plan once per batch.
#![forbid(unsafe_code)]

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::directory::{AddrSet, IfIndex};
use super::intervals::IntervalSet;
use crate::wire::{self, lean, Decoded, Depth, L3};

/// The direction a packet travels, from the capture's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Towards the protected network (`direc = in`).
    In,
    /// Away from it (`direc = out`).
    Out,
    /// Not known: `direc` conditions are false.
    #[default]
    Unknown,
}

/// What the capture knows about a packet besides its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PacketMeta {
    /// The interface it arrived on, if known.
    pub iif: Option<IfIndex>,
    /// Its direction.
    pub direction: Direction,
}

/// Which address or port of the packet a test looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    Src,
    Dst,
    /// Source or destination, each on its own.
    Either,
}

/// A set of interfaces as a bitset over [`IfIndex`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct IfSet {
    words: Box<[u64]>,
}

impl IfSet {
    pub(crate) fn from_indices(indices: impl IntoIterator<Item = IfIndex>) -> IfSet {
        let mut words: Vec<u64> = Vec::new();
        for IfIndex(i) in indices {
            let w = usize::from(i / 64);
            if words.len() <= w {
                words.resize(w + 1, 0);
            }
            if let Some(word) = words.get_mut(w) {
                *word |= 1 << (i % 64);
            }
        }
        while words.last() == Some(&0) {
            words.pop();
        }
        IfSet {
            words: words.into_boxed_slice(),
        }
    }

    #[inline]
    pub(crate) fn contains(&self, IfIndex(i): IfIndex) -> bool {
        self.words
            .get(usize::from(i / 64))
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = IfIndex> + '_ {
        (0..self.words.len() * 64)
            .filter_map(|i| u16::try_from(i).ok().map(IfIndex))
            .filter(move |&i| self.contains(i))
    }
}

/// One packet test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Test {
    /// The packet is IPv4 or IPv6.
    IsIp,
    /// The address(es) are in the set. With `negated`: the packet's family
    /// has entries in the set and the address(es) are not in it (for
    /// `Either`: neither address is).
    Addr {
        which: Which,
        negated: bool,
        set: AddrSet,
    },
    /// The port(s) are in one of the two ranges (repeat a range when there
    /// is only one); false without ports.
    Port {
        which: Which,
        ranges: [(u16, u16); 2],
    },
    /// The incoming interface is in the set.
    Iif(IfSet),
    /// The direction is this one.
    Direc(Direction),
    /// TCP: `flags & mask == value`; false without TCP flags.
    Flags { mask: u8, value: u8 },
}

impl Test {
    /// Position of this test's kind in the order `Display` numbers a table
    /// plan's tests in (`t0`, `t1`, …).
    pub(crate) fn kind_rank(&self) -> u8 {
        match self {
            Test::IsIp => 0,
            Test::Iif(_) => 1,
            Test::Direc(_) => 2,
            Test::Flags { .. } => 3,
            Test::Port { ranges, .. } if ranges[0] == ranges[1] => 4,
            Test::Port { .. } => 5,
            Test::Addr { .. } => 6,
        }
    }

    /// Position of this test's kind in a table plan's bit order: by the
    /// stage that can run it (metadata, network, transport), then by kind.
    pub(crate) fn stage_rank(&self) -> u8 {
        match self {
            Test::Iif(_) => 0,
            Test::Direc(_) => 1,
            Test::IsIp => 2,
            Test::Addr { .. } => 3,
            Test::Flags { .. } => 4,
            Test::Port { ranges, .. } if ranges[0] == ranges[1] => 5,
            Test::Port { .. } => 6,
        }
    }

    /// The decode depth this test needs.
    pub(crate) fn depth(&self) -> Depth {
        match self {
            Test::IsIp | Test::Addr { .. } => Depth::Network,
            Test::Port { .. } | Test::Flags { .. } => Depth::Transport,
            Test::Iif(_) | Test::Direc(_) => Depth::Metadata,
        }
    }

    /// Runs the test. Written to compile to few data-dependent branches:
    /// `&`/`|` on `bool` instead of `&&`/`||`, defaults instead of early
    /// returns.
    #[inline(always)]
    pub(crate) fn eval(&self, meta: &PacketMeta, d: &Decoded) -> bool {
        match self {
            Test::IsIp => !matches!(d.l3, L3::None),
            Test::Addr {
                which,
                negated,
                set,
            } => match d.l3 {
                L3::None => false,
                L3::V4 { src, dst } => addr_test(&set.v4, *which, *negated, src, dst),
                L3::V6 { src, dst } => addr_test(&set.v6, *which, *negated, src, dst),
            },
            Test::Port { which, ranges } => {
                let (s, t) = d.ports.unwrap_or((0, 0));
                let [(a, b), (c, e)] = *ranges;
                let hit = |p: u16| (a <= p) & (p <= b) | (c <= p) & (p <= e);
                let found = match which {
                    Which::Src => hit(s),
                    Which::Dst => hit(t),
                    Which::Either => hit(s) | hit(t),
                };
                d.ports.is_some() & found
            }
            Test::Iif(set) => {
                // No interface can have index u16::MAX (at most 65535 exist).
                let i = meta.iif.unwrap_or(IfIndex(u16::MAX));
                set.contains(i)
            }
            Test::Direc(dir) => meta.direction == *dir,
            Test::Flags { mask, value } => {
                d.tcp_flags.is_some() & (d.tcp_flags.unwrap_or(0) & mask == *value)
            }
        }
    }
}

#[inline(always)]
fn addr_test<T: super::intervals::Point>(
    set: &IntervalSet<T>,
    which: Which,
    negated: bool,
    src: T,
    dst: T,
) -> bool {
    let hit = match which {
        Which::Src => set.contains(src),
        Which::Dst => set.contains(dst),
        Which::Either => set.contains(src) | set.contains(dst),
    };
    if negated {
        !set.is_empty() & !hit
    } else {
        hit
    }
}

/// A port test prepared for branch-free evaluation: `p` is in a range when
/// `p - lo <= hi - lo` in wrapping arithmetic. `N` ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FastPort<const N: usize> {
    src: bool,
    dst: bool,
    lo: [u16; N],
    width: [u16; N],
}

impl<const N: usize> FastPort<N> {
    fn new(which: Which, ranges: &[(u16, u16); 2]) -> FastPort<N> {
        let mut lo = [0; N];
        let mut width = [0; N];
        for ((l, w), r) in lo.iter_mut().zip(width.iter_mut()).zip(ranges) {
            *l = r.0;
            *w = r.1.wrapping_sub(r.0);
        }
        FastPort {
            src: which != Which::Dst,
            dst: which != Which::Src,
            lo,
            width,
        }
    }

    #[inline(always)]
    fn eval(&self, has_ports: bool, s: u16, t: u16) -> bool {
        let mut hs = false;
        let mut ht = false;
        for i in 0..N {
            hs |= s.wrapping_sub(self.lo[i]) <= self.width[i];
            ht |= t.wrapping_sub(self.lo[i]) <= self.width[i];
        }
        has_ports & ((self.src & hs) | (self.dst & ht))
    }
}

/// An address test, minus the kind tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FastAddr {
    which: Which,
    negated: bool,
    set: AddrSet,
}

/// The tests of a table plan grouped by kind, so that each kind is a tight
/// loop and the packet's fields are read once. Bit order ([`Test::stage_rank`]):
/// the metadata tests (interfaces, directions), then the network tests (the
/// `is_ip` test, addresses), then the transport tests (flags, ports) — so
/// that the index can be built stage by stage, and decoding stop as soon as
/// the answer is known.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct TableTests {
    iifs: Box<[IfSet]>,
    direcs: Box<[Direction]>,
    is_ip: bool,
    addrs: Box<[FastAddr]>,
    flags: Box<[(u8, u8)]>,
    ports1: Box<[FastPort<1>]>,
    ports2: Box<[FastPort<2>]>,
    /// The first bit of the network tests.
    net_shift: u32,
    /// The first bit of the transport tests.
    l4_shift: u32,
}

impl TableTests {
    /// Splits `tests` (sorted by [`Test::stage_rank`]) by kind.
    pub(crate) fn new(tests: &[Test]) -> TableTests {
        let mut t = TableTests::default();
        let (mut iifs, mut direcs, mut flags, mut addrs) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut ports1, mut ports2) = (Vec::new(), Vec::new());
        for test in tests {
            match test {
                Test::IsIp => t.is_ip = true,
                Test::Iif(set) => iifs.push(set.clone()),
                Test::Direc(d) => direcs.push(*d),
                Test::Flags { mask, value } => flags.push((*mask, *value)),
                Test::Port { which, ranges } if ranges[0] == ranges[1] => {
                    ports1.push(FastPort::new(*which, ranges))
                }
                Test::Port { which, ranges } => ports2.push(FastPort::new(*which, ranges)),
                Test::Addr {
                    which,
                    negated,
                    set,
                } => addrs.push(FastAddr {
                    which: *which,
                    negated: *negated,
                    set: set.clone(),
                }),
            }
        }
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        t.net_shift = count(iifs.len() + direcs.len());
        t.l4_shift = t.net_shift + u32::from(t.is_ip) + count(addrs.len());
        t.iifs = iifs.into_boxed_slice();
        t.direcs = direcs.into_boxed_slice();
        t.flags = flags.into_boxed_slice();
        t.ports1 = ports1.into_boxed_slice();
        t.ports2 = ports2.into_boxed_slice();
        t.addrs = addrs.into_boxed_slice();
        t
    }

    /// How many tests.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.iifs.len()
            + self.direcs.len()
            + usize::from(self.is_ip)
            + self.addrs.len()
            + self.flags.len()
            + self.ports1.len()
            + self.ports2.len()
    }

    /// The bits of the metadata tests. Each kind is skipped with one
    /// well-predicted branch when the plan has none of it, so a packet pays
    /// only for the kinds the expression uses.
    #[inline(always)]
    pub(crate) fn meta_index(&self, meta: &PacketMeta) -> usize {
        let mut index = 0usize;
        let mut bit = 0u32;
        if !self.iifs.is_empty() {
            let iif = meta.iif.unwrap_or(IfIndex(u16::MAX));
            for set in self.iifs.iter() {
                index |= usize::from(set.contains(iif)) << bit;
                bit += 1;
            }
        }
        if !self.direcs.is_empty() {
            for dir in self.direcs.iter() {
                index |= usize::from(meta.direction == *dir) << bit;
                bit += 1;
            }
        }
        index
    }

    /// The bits of the network tests, in place; `l3` is called only when
    /// the plan has address tests.
    #[inline(always)]
    fn net_index(&self, is_ip: bool, l3: impl FnOnce() -> L3) -> usize {
        let mut index = 0usize;
        let mut bit = self.net_shift;
        if self.is_ip {
            index |= usize::from(is_ip) << bit;
            bit += 1;
        }
        if !self.addrs.is_empty() {
            match l3() {
                L3::None => {}
                L3::V4 { src, dst } => {
                    for a in self.addrs.iter() {
                        let r = addr_test(&a.set.v4, a.which, a.negated, src, dst);
                        index |= usize::from(r) << bit;
                        bit += 1;
                    }
                }
                L3::V6 { src, dst } => {
                    for a in self.addrs.iter() {
                        let r = addr_test(&a.set.v6, a.which, a.negated, src, dst);
                        index |= usize::from(r) << bit;
                        bit += 1;
                    }
                }
            }
        }
        index
    }

    /// The bits of the transport tests, in place. `flags` and `ports` are
    /// meaningful only with `has_flags` and `has_ports`.
    #[inline(always)]
    fn l4_index(&self, has_flags: bool, flags: u8, has_ports: bool, s: u16, t: u16) -> usize {
        let mut index = 0usize;
        let mut bit = self.l4_shift;
        if !self.flags.is_empty() {
            for &(mask, value) in self.flags.iter() {
                index |= usize::from(has_flags & (flags & mask == value)) << bit;
                bit += 1;
            }
        }
        if !(self.ports1.is_empty() && self.ports2.is_empty()) {
            for p in self.ports1.iter() {
                index |= usize::from(p.eval(has_ports, s, t)) << bit;
                bit += 1;
            }
            for p in self.ports2.iter() {
                index |= usize::from(p.eval(has_ports, s, t)) << bit;
                bit += 1;
            }
        }
        index
    }

    /// The truth-table index of a decoded packet: bit `i` is the result of
    /// test `i`.
    #[inline(always)]
    fn index(&self, meta: &PacketMeta, d: &Decoded) -> usize {
        let (s, t) = d.ports.unwrap_or((0, 0));
        self.meta_index(meta)
            | self.net_index(!matches!(d.l3, L3::None), || d.l3)
            | self.l4_index(
                d.tcp_flags.is_some(),
                d.tcp_flags.unwrap_or(0),
                d.ports.is_some(),
                s,
                t,
            )
    }
}

/// Bit `i` of a bitset, false past its end.
#[inline(always)]
pub(crate) fn bit(set: &[u64], i: usize) -> bool {
    set.get(i / 64).is_some_and(|w| (w >> (i % 64)) & 1 != 0)
}

/// A truth-table plan for [`Matcher::matches`] over network and transport
/// tests only, which decodes the frame stage by stage: it needs no decoding
/// at all when `depth` is [`Depth::Metadata`] (the answer is bit 0 of
/// `table`), and stops after the network stage when `depth` is
/// [`Depth::Network`] or bit `p` of `known_net` says that the network
/// tests' bits `p` decide the answer whatever the rest (it is then bit `p`
/// of `table`). `known_net` is empty when no entry is decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sub {
    pub(crate) tests: TableTests,
    pub(crate) table: Box<[u64]>,
    pub(crate) depth: Depth,
    pub(crate) known_net: Box<[u64]>,
    /// The sub-plan's shape, when it has a direct evaluation.
    pub(crate) shape: Shape,
}

/// Sub-plans of one test whose answer is that test (or its negation), run
/// without the table machinery: the common shapes once narrowing has
/// removed the metadata tests (`if = "X" & (port = …)`, `direc = in &
/// tcpfl = SYN`, `any`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shape {
    /// No direct evaluation: use the table.
    Table,
    /// The answer is `is_ip == when`.
    IsIp { when: bool },
    /// The answer is `port test == when`.
    Port { test: FastPort<2>, when: bool },
    /// The answer is `(has flags & flags & mask == value) == when`.
    Flags { mask: u8, value: u8, when: bool },
    /// The answer is `address test & port test`: the transport layer is
    /// read only for packets that pass the address test (`daddr = X &
    /// dport = Y`).
    AddrPort { addr: FastAddr, port: FastPort<2> },
}

impl Shape {
    /// The direct shape of a sub-plan with `tests` (in stage order) and
    /// truth table `table`, if it has one.
    pub(crate) fn of(tests: &[Test], table: &[u64]) -> Shape {
        if let (
            [Test::Addr {
                which,
                negated,
                set,
            }, Test::Port {
                which: port_which,
                ranges,
            }],
            Some(&word),
        ) = (tests, table.first())
        {
            // Bit 0 is the address test, bit 1 the port test: only row 3.
            if word & 0b1111 == 0b1000 {
                return Shape::AddrPort {
                    addr: FastAddr {
                        which: *which,
                        negated: *negated,
                        set: set.clone(),
                    },
                    port: FastPort::new(*port_which, ranges),
                };
            }
        }
        let ([test], Some(&word)) = (tests, table.first()) else {
            return Shape::Table;
        };
        let when = match word & 0b11 {
            0b10 => true,
            0b01 => false,
            _ => return Shape::Table,
        };
        match test {
            Test::IsIp => Shape::IsIp { when },
            Test::Port { which, ranges } => Shape::Port {
                test: FastPort::new(*which, ranges),
                when,
            },
            Test::Flags { mask, value } => Shape::Flags {
                mask: *mask,
                value: *value,
                when,
            },
            _ => Shape::Table,
        }
    }
}

impl Sub {
    /// [`Sub::matches`] of each frame, one bit each (at most 64 frames):
    /// the shape is dispatched once, and each arm is a loop of its own.
    #[inline]
    fn matches_batch(&self, frames: &[&[u8]]) -> u64 {
        match self.shape {
            Shape::IsIp { when } => each(frames, |f| lean::network(f).is_ip() == when),
            Shape::Port { ref test, when } => each(frames, |f| {
                let l4 = lean::transport_fast(f);
                test.eval(l4.has_ports, l4.src, l4.dst) == when
            }),
            Shape::Flags { mask, value, when } => each(frames, |f| {
                let l4 = lean::transport_fast(f);
                (l4.has_flags & (l4.flags & mask == value)) == when
            }),
            Shape::AddrPort { ref addr, ref port } => {
                match (addr.which, addr.negated, addr.set.v4.ranges()) {
                    (Which::Dst, false, &[(lo, hi)]) => each(frames, |f| {
                        self.addr_port(f, port, |_, dst| (lo <= dst) & (dst <= hi))
                    }),
                    (Which::Src, false, &[(lo, hi)]) => each(frames, |f| {
                        self.addr_port(f, port, |src, _| (lo <= src) & (src <= hi))
                    }),
                    _ => each(frames, |f| self.matches(f)),
                }
            }
            Shape::Table if self.depth == Depth::Metadata => {
                if bit(&self.table, 0) {
                    all(frames.len())
                } else {
                    0
                }
            }
            Shape::Table => each(frames, |f| self.matches_table(f)),
        }
    }

    /// [`Shape::AddrPort`] with the IPv4 address test `v4_hit(src, dst)`
    /// (the shape's own, one interval on one side, so that the batch loop
    /// has no dispatch on it): untagged IPv4 frames without options are
    /// decided here, every other frame by [`Sub::matches`].
    #[inline(always)]
    fn addr_port(
        &self,
        frame: &[u8],
        port: &FastPort<2>,
        v4_hit: impl Fn(u32, u32) -> bool,
    ) -> bool {
        match lean::plain_v4_addrs(frame) {
            Some((src, dst)) => {
                v4_hit(src, dst) && {
                    let l4 = lean::transport_fast(frame);
                    port.eval(l4.has_ports, l4.src, l4.dst)
                }
            }
            None => self.matches(frame),
        }
    }

    /// Matches `frame`.
    #[inline(always)]
    fn matches(&self, frame: &[u8]) -> bool {
        match self.shape {
            Shape::Table => {}
            Shape::IsIp { when } => return lean::network(frame).is_ip() == when,
            Shape::Port { ref test, when } => {
                let l4 = lean::transport_fast(frame);
                return test.eval(l4.has_ports, l4.src, l4.dst) == when;
            }
            Shape::Flags { mask, value, when } => {
                let l4 = lean::transport_fast(frame);
                return (l4.has_flags & (l4.flags & mask == value)) == when;
            }
            Shape::AddrPort { ref addr, ref port } => {
                if let Some((src, dst)) = lean::plain_v4_addrs(frame) {
                    if !addr_test(&addr.set.v4, addr.which, addr.negated, src, dst) {
                        return false;
                    }
                    let l4 = lean::transport_fast(frame);
                    return port.eval(l4.has_ports, l4.src, l4.dst);
                }
                let net = lean::network(frame);
                let hit = match net.l3() {
                    L3::None => false,
                    L3::V4 { src, dst } => {
                        addr_test(&addr.set.v4, addr.which, addr.negated, src, dst)
                    }
                    L3::V6 { src, dst } => {
                        addr_test(&addr.set.v6, addr.which, addr.negated, src, dst)
                    }
                };
                if !hit {
                    return false;
                }
                let l4 = lean::transport(net);
                return port.eval(l4.has_ports, l4.src, l4.dst);
            }
        }
        self.matches_table(frame)
    }

    /// Matches `frame` with the truth table.
    #[inline(always)]
    fn matches_table(&self, frame: &[u8]) -> bool {
        if self.depth == Depth::Metadata {
            return bit(&self.table, 0);
        }
        let t = &self.tests;
        let net = lean::network(frame);
        let index = t.net_index(net.is_ip(), || net.l3());
        if self.depth == Depth::Network || bit(&self.known_net, index) {
            return bit(&self.table, index);
        }
        let l4 = lean::transport(net);
        let index = index | t.l4_index(l4.has_flags, l4.flags, l4.has_ports, l4.src, l4.dst);
        bit(&self.table, index)
    }
}

/// Most frames one [`Matcher::matches_batch`] call matches (one bit each).
pub const BATCH_MAX: usize = 64;

/// The metadata of the frames of a [`Matcher::matches_batch`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchMeta<'a> {
    /// Every frame has this metadata (a port whose interface and direction
    /// do not depend on the frame, or an offline file).
    Same(PacketMeta),
    /// Frame `i` has metadata `i`.
    Each(&'a [PacketMeta]),
}

/// Bit `i` set for `f(frames[i])`.
#[inline(always)]
fn each(frames: &[&[u8]], f: impl Fn(&[u8]) -> bool) -> u64 {
    let mut mask = 0u64;
    for (i, frame) in frames.iter().enumerate() {
        mask |= u64::from(f(frame)) << (i & 63);
    }
    mask
}

/// The low `n` bits set (`n` ≤ 64).
#[inline(always)]
fn all(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Jump target: the packet matches.
pub(crate) const ACCEPT: u32 = u32::MAX;
/// Jump target: the packet does not match.
pub(crate) const REJECT: u32 = u32::MAX - 1;

/// One node of the program: run `test`, then go to `on_true` or `on_false`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    pub(crate) test: Test,
    pub(crate) on_true: u32,
    pub(crate) on_false: u32,
}

/// Most distinct tests the truth-table plan takes (a 512-byte table).
pub const TABLE_MAX_TESTS: usize = 12;

/// How a [`Matcher`] combines its tests.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    /// Bit `i` of the index is the result of test `i` in stage order
    /// ([`Test::stage_rank`]); the answer is bit `index` of `table` (64
    /// entries per word). `tests` are sorted by kind ([`Test::kind_rank`],
    /// the order `Display` numbers them in); `fast` holds them in stage
    /// order, split by kind. [`Matcher::matches_decoded`] uses these.
    ///
    /// [`Matcher::matches`] uses `subs`, each the plan narrowed to one
    /// outcome of the metadata tests: entry `3 × i + d` of `meta_sub` is
    /// the sub-plan for incoming interface `i` (`if_count` for none or an
    /// unknown one) and direction `d` (in, out, unknown).
    Table {
        tests: Box<[Test]>,
        fast: TableTests,
        table: Box<[u64]>,
        if_count: usize,
        meta_sub: Box<[u32]>,
        subs: Box<[Sub]>,
    },
    /// A branch program starting at `entry` (or the constant
    /// [`ACCEPT`]/[`REJECT`]).
    Program { nodes: Box<[Node]>, entry: u32 },
}

/// A compiled expression. Cheap to share (`Arc`) between workers; matching
/// takes `&self`.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub(crate) plan: Plan,
    pub(crate) depth: Depth,
    /// For `Display` only: interface names, and for the table plan the
    /// expression over the tests (`t0 & (t1 | t2)`).
    pub(crate) if_names: Vec<String>,
    pub(crate) formula: String,
}

impl Matcher {
    /// The least decode depth the expression needs: `Metadata` for
    /// interface/direction-only expressions (and constants), `Network` for
    /// addresses, `any` and `oif`, `Transport` for ports and TCP flags.
    pub fn depth(&self) -> Depth {
        self.depth
    }

    /// Decodes `frame` as far as the expression needs and matches it. The
    /// same answer as [`Matcher::matches_decoded`] on
    /// `wire::decode(frame, self.depth())`, but staged: the metadata tests
    /// run first, the frame's network layer is read only if they leave the
    /// answer open, and its transport layer only if the network tests do too.
    #[inline]
    pub fn matches(&self, meta: &PacketMeta, frame: &[u8]) -> bool {
        match &self.plan {
            Plan::Table { .. } => match self.sub_for(meta) {
                Some(sub) => sub.matches(frame),
                None => false,
            },
            Plan::Program { .. } => {
                if self.depth == Depth::Metadata {
                    return self.matches_decoded(meta, &Decoded::default());
                }
                self.matches_decoded(meta, &wire::decode(frame, self.depth))
            }
        }
    }

    /// Matches up to [`BATCH_MAX`] frames at once: bit `i` of the answer is
    /// [`Matcher::matches`] of `frames[i]` with its metadata from `meta`
    /// (frames past [`BATCH_MAX`], and with [`BatchMeta::Each`] frames
    /// without metadata, are not matched: their bits are 0).
    ///
    /// The same answers as one call per frame, but the plan is looked at
    /// once per batch: with [`BatchMeta::Same`] the sub-plan for the
    /// metadata and its shape are chosen once, and each frame runs a tight
    /// loop specialised to that shape (no per-frame dispatch, no call).
    #[inline]
    pub fn matches_batch(&self, meta: BatchMeta<'_>, frames: &[&[u8]]) -> u64 {
        let frames = frames.get(..BATCH_MAX).unwrap_or(frames);
        match (&self.plan, meta) {
            (Plan::Table { .. }, BatchMeta::Same(meta)) => match self.sub_for(&meta) {
                Some(sub) => sub.matches_batch(frames),
                None => 0,
            },
            (_, BatchMeta::Same(meta)) => each(frames, |f| self.matches(&meta, f)),
            (_, BatchMeta::Each(metas)) => {
                let mut mask = 0u64;
                for (i, (f, m)) in frames.iter().zip(metas).enumerate() {
                    mask |= u64::from(self.matches(m, f)) << i;
                }
                mask
            }
        }
    }

    /// The sub-plan of a table plan for the metadata `meta`.
    #[inline(always)]
    fn sub_for(&self, meta: &PacketMeta) -> Option<&Sub> {
        let Plan::Table {
            if_count,
            meta_sub,
            subs,
            ..
        } = &self.plan
        else {
            return None;
        };
        let i = meta
            .iif
            .map_or(*if_count, |IfIndex(i)| usize::from(i).min(*if_count));
        let d = match meta.direction {
            Direction::In => 0,
            Direction::Out => 1,
            Direction::Unknown => 2,
        };
        meta_sub.get(3 * i + d).and_then(|&s| subs.get(s as usize))
    }

    /// Matches an already decoded packet (decoded at least to
    /// [`Matcher::depth`]).
    #[inline]
    pub fn matches_decoded(&self, meta: &PacketMeta, d: &Decoded) -> bool {
        match &self.plan {
            Plan::Table { fast, table, .. } => bit(table, fast.index(meta, d)),
            Plan::Program { nodes, entry } => {
                let mut pc = *entry;
                while let Some(node) = nodes.get(pc as usize) {
                    pc = if node.test.eval(meta, d) {
                        node.on_true
                    } else {
                        node.on_false
                    };
                }
                pc == ACCEPT
            }
        }
    }

    /// The number of tests in the plan (0 for a constant).
    pub fn len(&self) -> usize {
        match &self.plan {
            Plan::Table { tests, .. } => tests.len(),
            Plan::Program { nodes, .. } => nodes.len(),
        }
    }

    /// Is the expression a constant (no tests)?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The constant answer, if the expression does not depend on the packet.
    pub fn constant(&self) -> Option<bool> {
        match &self.plan {
            Plan::Table { tests, table, .. } if tests.is_empty() => {
                Some(table.first().is_some_and(|w| w & 1 != 0))
            }
            Plan::Program { nodes, entry } if nodes.is_empty() => Some(*entry == ACCEPT),
            _ => None,
        }
    }
}

fn target(t: u32) -> String {
    match t {
        ACCEPT => "MATCH".into(),
        REJECT => "NO".into(),
        n => n.to_string(),
    }
}

fn fmt_v4(set: &IntervalSet<u32>) -> String {
    let parts: Vec<String> = set
        .ranges()
        .iter()
        .map(|&(a, b)| {
            if a == b {
                Ipv4Addr::from(a).to_string()
            } else {
                format!("{}-{}", Ipv4Addr::from(a), Ipv4Addr::from(b))
            }
        })
        .collect();
    parts.join(", ")
}

fn fmt_v6(set: &IntervalSet<u128>) -> String {
    let parts: Vec<String> = set
        .ranges()
        .iter()
        .map(|&(a, b)| {
            if a == b {
                Ipv6Addr::from(a).to_string()
            } else {
                format!("{}-{}", Ipv6Addr::from(a), Ipv6Addr::from(b))
            }
        })
        .collect();
    parts.join(", ")
}

impl Matcher {
    fn fmt_test(&self, t: &Test) -> String {
        let which = |w: &Which, base: &str| {
            let prefix = match w {
                Which::Src => "s",
                Which::Dst => "d",
                Which::Either => "",
            };
            format!("{prefix}{base}")
        };
        match t {
            Test::IsIp => "is IP".into(),
            Test::Addr {
                which: w,
                negated,
                set,
            } => {
                let op = if *negated { "not in" } else { "in" };
                format!(
                    "{} {op} v4{{{}}} v6{{{}}}",
                    which(w, "addr"),
                    fmt_v4(&set.v4),
                    fmt_v6(&set.v6)
                )
            }
            Test::Port { which: w, ranges } => {
                let mut rs = ranges.to_vec();
                rs.dedup();
                let parts: Vec<String> = rs
                    .iter()
                    .map(|&(a, b)| {
                        if a == b {
                            a.to_string()
                        } else {
                            format!("{a}-{b}")
                        }
                    })
                    .collect();
                format!("{} in {{{}}}", which(w, "port"), parts.join(", "))
            }
            Test::Iif(set) => {
                let names: Vec<String> = set
                    .iter()
                    .map(|IfIndex(i)| match self.if_names.get(usize::from(i)) {
                        Some(n) => format!("\"{n}\""),
                        None => format!("#{i}"),
                    })
                    .collect();
                format!("iif in {{{}}}", names.join(", "))
            }
            Test::Direc(d) => format!("direc = {}", if *d == Direction::In { "in" } else { "out" }),
            Test::Flags { mask, value } => {
                format!("tcpfl & {mask:#04x} == {value:#04x}")
            }
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "depth: {:?}", self.depth)?;
        if let Some(c) = self.constant() {
            return write!(f, "\nconstant: {}", if c { "match" } else { "no match" });
        }
        match &self.plan {
            Plan::Table { tests, .. } => {
                for (i, t) in tests.iter().enumerate() {
                    write!(f, "\nt{i}: {}", self.fmt_test(t))?;
                }
                write!(f, "\nmatch: {}", self.formula)
            }
            Plan::Program { nodes, .. } => {
                for (i, n) in nodes.iter().enumerate() {
                    write!(
                        f,
                        "\n{i}: {} ? {} : {}",
                        self.fmt_test(&n.test),
                        target(n.on_true),
                        target(n.on_false)
                    )?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! [`Matcher::matches`] (staged, lean decode, narrowed sub-plans) must
    //! agree with [`Matcher::matches_decoded`] on a full decode.
    use super::*;
    use crate::expr::compile;
    use crate::expr::tests::fixture;
    use proptest::prelude::*;
    use proptest::sample::select;

    const EXPRS: &[&str] = &[
        "any",
        "port = 137-139 | port = 445",
        r#"if = "Internet" & (port = 137-139 | port = 445)"#,
        r#"oif = "Internet" & daddr = 8.8.8.8 & (dport = 80 | dport = 8080)"#,
        "direc = in & tcpfl = SYN",
        "direc = out | tcpfl = SYN -ACK",
        "saddr = 192.168.1.0/24 & dport = 443",
        r#"iif = "LAN" | saddr = 10.0.0.0/8"#,
        r#"if != "LAN""#,
        r#"if != "DMZ" & port != 53"#,
        r#"saddr = list:"servers" | daddr = list:"everything" | addr = fd00::51"#,
        r#"daddr != list:"v4only" & sport = 1024-65535 & port != 8080"#,
        r#"saddr = user:"bob" & (dport < 1024 | tcpfl = SYN)"#,
        r#"iif = "Internet" & direc = in & oif = "LAN""#,
        r#"iif = "Internet" | iif = "LAN" | iif = "Branch" | iif = "DMZ" | iif = "Roadwarrior" | port = 22"#,
        "tcpfl = FIN | tcpfl = RST | (tcpfl = SYN & dport = 22)",
        "addr = 2001:db8::1 | (saddr = 192.168.1.7 & tcpfl = ACK)",
        // More than `TABLE_MAX_TESTS` tests: the branch program.
        "port = 1 | port = 2 | port = 3 | port = 4 | port = 5 | port = 6 | port = 7 \
         | port = 8 | port = 9 | port = 10 | port = 11 | port = 12 | port = 13 | saddr = 10.0.0.1",
        r#"if = "Internet""#,
        "direc = in",
        "any & saddr = 10.0.0.0/8",
        "saddr = 10.1.0.0/16 | saddr = 10.0.0.0/8 & port = 22",
        "addr = 10.20.0.0/16 & daddr != 10.20.0.0/24 & saddr = 10.20.0.0/24",
        "saddr != 10.1.0.0/16 | saddr = 10.0.0.0/8",
        "dport = 80 | dport = 8080 | dport = 7 | sport = 1-10 | sport = 20-30",
        "(dport = 80 | dport = 443) & (dport != 80 | sport != 1024)",
        "dport != 80",
        r#"iif = "Internet" & dport != 445"#,
        r#"(saddr = 192.168.1.0/24 | addr = list:"servers") & daddr = 192.168.1.10 & any"#,
    ];

    /// A frame from parts: VLAN TPIDs, an L3 (4, 6 or ARP) with an L4.
    #[derive(Debug, Clone)]
    struct Spec {
        tags: Vec<u16>,
        family: u8,
        src: u32,
        dst: u32,
        proto: u8,
        frag: u16,
        ports: (u16, u16),
        flags: u8,
        ext: bool,
        cut: usize,
        edits: Vec<(usize, u8)>,
    }

    fn build(s: &Spec) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        for &t in &s.tags {
            f.extend_from_slice(&t.to_be_bytes());
            f.extend_from_slice(&[0, 5]);
        }
        let mut l4 = Vec::new();
        l4.extend_from_slice(&s.ports.0.to_be_bytes());
        l4.extend_from_slice(&s.ports.1.to_be_bytes());
        if s.proto == 6 {
            l4.extend_from_slice(&[
                0, 0, 0, 1, 0, 0, 0, 0, 0x50, s.flags, 0xff, 0xff, 0, 0, 0, 0,
            ]);
        } else {
            l4.extend_from_slice(&[0, 8, 0, 0]);
        }
        match s.family {
            4 => {
                f.extend_from_slice(&0x0800u16.to_be_bytes());
                let total = u16::try_from(20 + l4.len()).unwrap_or(0);
                f.extend_from_slice(&[0x45, 0]);
                f.extend_from_slice(&total.to_be_bytes());
                f.extend_from_slice(&[0, 1]);
                f.extend_from_slice(&s.frag.to_be_bytes());
                f.extend_from_slice(&[64, s.proto, 0, 0]);
                f.extend_from_slice(&s.src.to_be_bytes());
                f.extend_from_slice(&s.dst.to_be_bytes());
            }
            6 => {
                f.extend_from_slice(&0x86ddu16.to_be_bytes());
                let ext: &[u8] = if s.ext {
                    &[0, 0, 0, 0, 0, 0, 0, 0]
                } else {
                    &[]
                };
                let len = u16::try_from(ext.len() + l4.len()).unwrap_or(0);
                f.extend_from_slice(&[0x60, 0, 0, 0]);
                f.extend_from_slice(&len.to_be_bytes());
                let first = if s.ext { 0 } else { s.proto };
                f.extend_from_slice(&[first, 64]);
                let map = |a: u32| {
                    if a >> 24 == 10 {
                        0xfd00_0000_0000_0000_0000_0000_0000_0051u128
                    } else if a >> 24 == 192 {
                        0x2001_0db8_0000_0000_0000_0000_0000_0001u128
                    } else {
                        u128::from(a)
                    }
                };
                f.extend_from_slice(&map(s.src).to_be_bytes());
                f.extend_from_slice(&map(s.dst).to_be_bytes());
                if s.ext {
                    f.extend_from_slice(&[s.proto, 0, 0, 0, 0, 0, 0, 0]);
                }
            }
            _ => f.extend_from_slice(&0x0806u16.to_be_bytes()),
        }
        f.extend_from_slice(&l4);
        if f.len() < 60 {
            f.resize(60, 0);
        }
        for &(at, b) in &s.edits {
            let i = at % f.len();
            f[i] = b;
        }
        f.truncate(f.len() - s.cut % (f.len() + 1));
        f
    }

    fn specs() -> impl Strategy<Value = Spec> {
        let addrs = select(vec![
            0x0808_0808u32,
            0xc0a8_0107,
            0xc0a8_0181,
            0x0a14_0001,
            0x0a00_0001,
            0xac10_0001,
            0x0101_0101,
            0xc0a8_010a,
        ]);
        let tags = proptest::collection::vec(select(vec![0x8100u16, 0x88a8, 0x9100]), 0..4);
        (
            (tags, select(vec![4u8, 4, 4, 6, 6, 0]), addrs.clone(), addrs),
            (
                select(vec![6u8, 6, 17, 1, 50]),
                select(vec![0u16, 0x4000, 0x2000, 0x0010]),
                (
                    select(vec![53u16, 80, 137, 139, 445, 443, 22, 8080, 50000, 1, 13]),
                    select(vec![53u16, 80, 138, 445, 443, 22, 8080, 1024, 7]),
                ),
                select(vec![0x02u8, 0x12, 0x10, 0x01, 0x04, 0x11]),
            ),
            (
                any::<bool>(),
                prop_oneof![4 => Just(0usize), 1 => 0..80usize],
                proptest::collection::vec((0..120usize, any::<u8>()), 0..2),
            ),
        )
            .prop_map(
                |((tags, family, src, dst), (proto, frag, ports, flags), (ext, cut, edits))| Spec {
                    tags,
                    family,
                    src,
                    dst,
                    proto,
                    frag,
                    ports,
                    flags,
                    ext,
                    cut,
                    edits,
                },
            )
    }

    fn metas() -> impl Strategy<Value = PacketMeta> {
        (
            prop_oneof![Just(None), (0u16..6).prop_map(|i| Some(IfIndex(i)))],
            select(vec![Direction::In, Direction::Out, Direction::Unknown]),
        )
            .prop_map(|(iif, direction)| PacketMeta { iif, direction })
    }

    fn matchers() -> Vec<(&'static str, Matcher)> {
        let dir = fixture();
        EXPRS
            .iter()
            .map(|src| {
                let m = compile(src, &dir)
                    .unwrap_or_else(|e| panic!("{src}: {e}"))
                    .matcher;
                (*src, m)
            })
            .collect()
    }

    #[test]
    fn the_plans_are_the_intended_ones() {
        let ms = matchers();
        let program = ms
            .iter()
            .filter(|(_, m)| matches!(m.plan, Plan::Program { .. }))
            .count();
        assert_eq!(program, 1);
        // The direct shapes occur, so the property test below runs them.
        let shapes: Vec<&Shape> = ms
            .iter()
            .filter_map(|(_, m)| match &m.plan {
                Plan::Table { subs, .. } => Some(subs.iter().map(|s| &s.shape)),
                Plan::Program { .. } => None,
            })
            .flatten()
            .collect();
        for want in ["IsIp { when: true }", "Port {", "Flags {", "AddrPort {"] {
            assert!(
                shapes.iter().any(|s| format!("{s:?}").contains(want)),
                "no sub-plan of shape {want}: {shapes:?}"
            );
        }
    }

    #[test]
    fn narrowing_drops_tests_that_cannot_change_the_answer() {
        let dir = fixture();
        let m = compile(r#"if = "Internet" & (port = 137-139 | port = 445)"#, &dir)
            .expect("compiles")
            .matcher;
        let Plan::Table { meta_sub, subs, .. } = &m.plan else {
            panic!("table plan expected");
        };
        // Five interfaces and none, three directions each.
        assert_eq!(meta_sub.len(), 18);
        // iif = Internet (index 0): only the port test is left (the two
        // ranges merged); otherwise the address (oif) test too.
        let sizes: Vec<usize> = meta_sub
            .iter()
            .filter_map(|&s| subs.get(s as usize))
            .map(|s| s.tests.len())
            .collect();
        let mut want = vec![2; 18];
        want[..3].fill(1);
        assert_eq!(sizes, want, "{m}");
        assert_eq!(subs.len(), 2);
    }

    #[test]
    fn narrowing_drops_tests_implied_by_others() {
        let dir = fixture();
        // (expression, tests left in its only sub-plan)
        let cases = [
            // 8.8.8.8 is routed to the Internet: the oif test is implied.
            // The two port tests merge into one.
            (
                r#"oif = "Internet" & daddr = 8.8.8.8 & (dport = 80 | dport = 8080)"#,
                2,
            ),
            // Not merged: different ports, or not just their union matters.
            ("sport = 80 | dport = 8080", 2),
            ("dport = 80 & dport = 8080 | dport = 7", 3),
            ("dport = 80 | dport = 8080 | dport = 7", 2),
            // An address test holds only for IP packets.
            ("any & saddr = 10.0.0.0/8", 1),
            ("any | saddr = 10.0.0.0/8", 1),
            ("saddr = 10.1.0.0/16 | saddr = 10.0.0.0/8", 1),
            // Negated address tests imply nothing but IP.
            ("saddr != 10.1.0.0/16 | saddr = 10.0.0.0/8", 2),
            ("saddr != 10.1.0.0/16 & any", 1),
        ];
        for (src, want) in cases {
            let m = compile(src, &dir).expect("compiles").matcher;
            let Plan::Table { subs, .. } = &m.plan else {
                panic!("table plan expected");
            };
            let sizes: Vec<usize> = subs.iter().map(|s| s.tests.len()).collect();
            assert_eq!(sizes, [want], "{src}\n{m}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn staged_matching_agrees_with_full_decode(spec in specs(), meta in metas()) {
            let frame = build(&spec);
            let d = wire::decode(&frame, Depth::Transport);
            for (src, m) in MATCHERS.with(|ms| ms.clone()) {
                prop_assert_eq!(
                    m.matches(&meta, &frame),
                    m.matches_decoded(&meta, &d),
                    "{}\n{:?}\n{:02x?}", src, meta, frame
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// A batch (up to 70 frames, more than [`BATCH_MAX`]) gives the
        /// answers of one `matches` call per frame, with one metadata for
        /// all frames and with one each; frames past the limit get 0.
        #[test]
        fn batch_matching_agrees_with_one_frame_at_a_time(
            specs in proptest::collection::vec(specs(), 0..70),
            metas in proptest::collection::vec(metas(), 70),
        ) {
            let frames: Vec<Vec<u8>> = specs.iter().map(build).collect();
            let views: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
            let expect = |m: &Matcher, meta_of: &dyn Fn(usize) -> PacketMeta| {
                views.iter().take(BATCH_MAX).enumerate().fold(0u64, |mask, (i, f)| {
                    mask | u64::from(m.matches(&meta_of(i), f)) << i
                })
            };
            for (src, m) in MATCHERS.with(|ms| ms.clone()) {
                let same = metas[0];
                prop_assert_eq!(
                    m.matches_batch(BatchMeta::Same(same), &views),
                    expect(&m, &|_| same),
                    "{} (same metadata {:?})", src, same
                );
                prop_assert_eq!(
                    m.matches_batch(BatchMeta::Each(&metas), &views),
                    expect(&m, &|i| metas[i]),
                    "{} (metadata each)", src
                );
            }
        }
    }

    #[test]
    fn batch_of_constant_sub_plans_sets_every_bit_or_none() {
        let dir = fixture();
        let frames = [&[0u8; 10][..]; 64];
        let m = compile("direc = in", &dir).expect("compiles").matcher;
        let inbound = PacketMeta {
            iif: None,
            direction: Direction::In,
        };
        assert_eq!(m.matches_batch(BatchMeta::Same(inbound), &frames), u64::MAX);
        assert_eq!(
            m.matches_batch(BatchMeta::Same(inbound), &frames[..3]),
            0b111
        );
        assert_eq!(
            m.matches_batch(BatchMeta::Same(PacketMeta::default()), &frames),
            0
        );
        assert_eq!(m.matches_batch(BatchMeta::Same(inbound), &[]), 0);
    }

    thread_local! {
        static MATCHERS: Vec<(&'static str, Matcher)> = matchers();
    }
}
