//! The compiled matcher: a flat branch program over packet tests.
//!
//! Promises:
//! - [`Matcher::matches_decoded`] never allocates, never panics, and
//!   evaluates each test at most once per packet: every node jumps strictly
//!   forward, to another node or to accept/reject, so `&` and `|`
//!   short-circuit and the walk always ends.
//! - [`Matcher::depth`] is the least [`Depth`] the tests need, so
//!   [`Matcher::matches`] decodes no further than necessary.
//! - Address tests are binary searches over sorted, merged interval sets
//!   (linear scans for up to four intervals).
#![forbid(unsafe_code)]

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::directory::{AddrSet, IfIndex};
use super::intervals::IntervalSet;
use crate::wire::{self, Decoded, Depth, L3};

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
    /// The port(s) are in one of `ranges[..len]`; false without ports.
    Port {
        which: Which,
        ranges: [(u16, u16); 2],
        len: u8,
    },
    /// The incoming interface is in the set.
    Iif(IfSet),
    /// The direction is this one.
    Direc(Direction),
    /// TCP: `flags & mask == value`; false without TCP flags.
    Flags { mask: u8, value: u8 },
}

impl Test {
    /// The decode depth this test needs.
    pub(crate) fn depth(&self) -> Depth {
        match self {
            Test::IsIp | Test::Addr { .. } => Depth::Network,
            Test::Port { .. } | Test::Flags { .. } => Depth::Transport,
            Test::Iif(_) | Test::Direc(_) => Depth::Metadata,
        }
    }

    #[inline]
    fn eval(&self, meta: &PacketMeta, d: &Decoded) -> bool {
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
            Test::Port { which, ranges, len } => match d.ports {
                None => false,
                Some((s, t)) => {
                    let rs = ranges.get(..usize::from(*len)).unwrap_or(&[]);
                    let hit = |p: u16| rs.iter().any(|&(lo, hi)| lo <= p && p <= hi);
                    match which {
                        Which::Src => hit(s),
                        Which::Dst => hit(t),
                        Which::Either => hit(s) || hit(t),
                    }
                }
            },
            Test::Iif(set) => meta.iif.is_some_and(|i| set.contains(i)),
            Test::Direc(dir) => meta.direction == *dir,
            Test::Flags { mask, value } => d.tcp_flags.is_some_and(|f| f & mask == *value),
        }
    }
}

#[inline]
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
        Which::Either => set.contains(src) || set.contains(dst),
    };
    if negated {
        !set.is_empty() && !hit
    } else {
        hit
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

/// A compiled expression. Cheap to share (`Arc`) between workers; matching
/// takes `&self`.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Nodes in program order; execution starts at `entry`.
    pub(crate) nodes: Box<[Node]>,
    /// Index of the first node, or [`ACCEPT`]/[`REJECT`] for a constant.
    pub(crate) entry: u32,
    pub(crate) depth: Depth,
    /// Interface names, for `Display` only.
    pub(crate) if_names: Vec<String>,
}

impl Matcher {
    /// The least decode depth the expression needs: `Metadata` for
    /// interface/direction-only expressions (and constants), `Network` for
    /// addresses, `any` and `oif`, `Transport` for ports and TCP flags.
    pub fn depth(&self) -> Depth {
        self.depth
    }

    /// Decodes `frame` as deep as [`Matcher::depth`] and matches it.
    pub fn matches(&self, meta: &PacketMeta, frame: &[u8]) -> bool {
        if self.depth == Depth::Metadata {
            return self.matches_decoded(meta, &Decoded::default());
        }
        self.matches_decoded(meta, &wire::decode(frame, self.depth))
    }

    /// Matches an already decoded packet (decoded at least to
    /// [`Matcher::depth`]).
    #[inline]
    pub fn matches_decoded(&self, meta: &PacketMeta, d: &Decoded) -> bool {
        let mut pc = self.entry;
        while let Some(node) = self.nodes.get(pc as usize) {
            pc = if node.test.eval(meta, d) {
                node.on_true
            } else {
                node.on_false
            };
        }
        pc == ACCEPT
    }

    /// The number of tests in the program.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Is the program a constant (no tests)?
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
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
            Test::Port {
                which: w,
                ranges,
                len,
            } => {
                let parts: Vec<String> = ranges
                    .get(..usize::from(*len))
                    .unwrap_or(&[])
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
        writeln!(f, "depth: {:?}", self.depth)?;
        if self.nodes.is_empty() {
            return write!(
                f,
                "constant: {}",
                if self.entry == ACCEPT {
                    "match"
                } else {
                    "no match"
                }
            );
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{i}: {} ? {} : {}",
                self.fmt_test(&n.test),
                target(n.on_true),
                target(n.on_false)
            )?;
        }
        Ok(())
    }
}
