//! The typed syntax tree of a Kerio packet-logging expression.
//!
//! Promises:
//! - Every node knows the byte range ([`Span`]) of the source it came from, so
//!   later stages can report errors at the right line and character.
//! - Values are already checked and typed: addresses are parsed, masks are
//!   contiguous, ranges are ordered and single-family, ports fit in `u16`, and a
//!   `tcpfl` list never asks for a flag both set and clear. Only *names*
//!   (interfaces, IP groups, users) are left for the resolve stage.
//! - [`Display`](std::fmt::Display) prints the normalized form: every
//!   condition and every binary operation in parentheses, keywords in lower
//!   case, flag names in upper case. Parsing the normalized form gives an equal
//!   tree.
//! - Equality ignores spans (see [`Span`]): two trees are equal when they say
//!   the same thing, wherever it was written.
#![forbid(unsafe_code)]

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A byte range `start..end` in the expression source.
///
/// Spans never take part in equality (`==` is always true), so that the tree
/// parsed from the normalized form equals the tree parsed from the original.
#[derive(Debug, Clone, Copy, Default)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
}

impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}
impl Eq for Span {}

/// A whole expression: conditions joined by `&` and `|`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `lhs | rhs`.
    Or {
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
        /// From the start of `lhs` to the end of `rhs`.
        span: Span,
    },
    /// `lhs & rhs`.
    And {
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
        /// From the start of `lhs` to the end of `rhs`.
        span: Span,
    },
    /// A single condition such as `dport = 80`.
    Cond(Condition),
}

impl Expr {
    /// The source range this node covers.
    pub fn span(&self) -> Span {
        match self {
            Expr::Or { span, .. } | Expr::And { span, .. } => *span,
            Expr::Cond(c) => c.span,
        }
    }

    /// Calls `f` on every condition, left to right.
    pub fn for_each_condition<'a>(&'a self, f: &mut dyn FnMut(&'a Condition)) {
        match self {
            Expr::Or { lhs, rhs, .. } | Expr::And { lhs, rhs, .. } => {
                lhs.for_each_condition(f);
                rhs.for_each_condition(f);
            }
            Expr::Cond(c) => f(c),
        }
    }
}

/// One `variable OP value` condition (or the bare `any`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// What is tested.
    pub kind: CondKind,
    /// The whole condition in the source.
    pub span: Span,
}

/// The kinds of condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CondKind {
    /// `any`: every IP packet.
    Any,
    /// `addr|saddr|daddr (=|!=) VALUE`.
    Addr {
        /// Which address.
        var: AddrVar,
        /// `=` or `!=`.
        op: EqOp,
        /// The address value.
        value: AddrValue,
        /// Where the value was written.
        value_span: Span,
    },
    /// `port|sport|dport OP N` or `OP N-M`.
    Port {
        /// Which port.
        var: PortVar,
        /// The comparison; a range only goes with `=` or `!=`.
        op: CmpOp,
        /// The port or range.
        value: PortValue,
    },
    /// `if|iif|oif (=|!=) VALUE`.
    Iface {
        /// Which interface.
        var: IfVar,
        /// `=` or `!=`.
        op: EqOp,
        /// The interface value.
        value: IfValue,
        /// Where the value was written.
        value_span: Span,
    },
    /// `direc = in|out`.
    Direc(DirecValue),
    /// `tcpfl = [+|-]FLAG …` (never empty, never contradictory).
    TcpFlags(Vec<FlagTerm>),
}

/// The address variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrVar {
    /// `addr`: source or destination.
    Addr,
    /// `saddr`: source.
    Saddr,
    /// `daddr`: destination.
    Daddr,
}

/// The port variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortVar {
    /// `port`: source or destination, each on its own.
    Port,
    /// `sport`: source.
    Sport,
    /// `dport`: destination.
    Dport,
}

/// The interface variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfVar {
    /// `if`: incoming or outgoing.
    If,
    /// `iif`: incoming.
    Iif,
    /// `oif`: outgoing (from the route table).
    Oif,
}

/// `=` or `!=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EqOp {
    /// `=`.
    Eq,
    /// `!=`.
    Ne,
}

/// Port comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

/// A port value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortValue {
    /// One port.
    Single(u16),
    /// An inclusive range, `first <= last`.
    Range(u16, u16),
}

/// An address value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrValue {
    /// `192.168.1.10`.
    V4Host(Ipv4Addr),
    /// `192.168.1.0/255.255.255.0` (the mask is contiguous).
    V4Mask {
        /// The network address as written (host bits are ignored).
        addr: Ipv4Addr,
        /// The mask.
        mask: Ipv4Addr,
    },
    /// `192.168.1.0/24` (`len <= 32`).
    V4Prefix {
        /// The network address as written (host bits are ignored).
        addr: Ipv4Addr,
        /// Prefix length.
        len: u8,
    },
    /// `192.168.1.10-192.168.1.20`, inclusive, `first <= last`.
    V4Range {
        /// First address.
        first: Ipv4Addr,
        /// Last address.
        last: Ipv4Addr,
    },
    /// `2001:db8::1`.
    V6Host(Ipv6Addr),
    /// `2001:db8::/32` (`len <= 128`; an extension of the seed).
    V6Prefix {
        /// The network address as written (host bits are ignored).
        addr: Ipv6Addr,
        /// Prefix length.
        len: u8,
    },
    /// `2001:db8::1-2001:db8::9`, inclusive (an extension of the seed).
    V6Range {
        /// First address.
        first: Ipv6Addr,
        /// Last address.
        last: Ipv6Addr,
    },
    /// `list:"group"`: an IP group from the directory.
    List {
        /// The group name.
        name: String,
        /// Where the name was written.
        span: Span,
    },
    /// `user:"u1,[g1]"`: the addresses users connect from.
    Users(Vec<UserRef>),
}

/// One item of a `user:"…"` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    /// The user or user-group name.
    pub name: String,
    /// `true` for `[group]`.
    pub is_group: bool,
    /// Where the item was written.
    pub span: Span,
}

/// An interface value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfValue {
    /// `"name"`.
    Name(String),
    /// `vpnclient`: any interface of kind VPN client.
    VpnClient,
    /// `vpn`: any VPN tunnel or VPN client interface.
    Vpn,
    /// `vpn:"name"`: that VPN interface.
    VpnNamed(String),
}

/// `direc` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirecValue {
    /// `in`.
    In,
    /// `out`.
    Out,
}

/// One `[+|-]FLAG` of a `tcpfl` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagTerm {
    /// The sign as written.
    pub sign: FlagSign,
    /// The flag.
    pub flag: TcpFlag,
    /// Where the term was written.
    pub span: Span,
}

/// The sign in front of a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagSign {
    /// No sign: the flag must be set.
    Bare,
    /// `+`: the flag must be set.
    Set,
    /// `-`: the flag must be clear.
    Clear,
}

/// Flag names of `tcpfl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpFlag {
    /// FIN.
    Fin,
    /// SYN.
    Syn,
    /// RST.
    Rst,
    /// PSH.
    Psh,
    /// ACK.
    Ack,
    /// URG.
    Urg,
    /// NONE: none of the six set (takes no sign).
    None,
    /// ALL: all six set (`-ALL`: all six clear).
    All,
}

impl TcpFlag {
    /// The bits this name stands for in the TCP flags byte.
    pub fn bits(self) -> u8 {
        use crate::wire::tcp_flags as f;
        match self {
            TcpFlag::Fin => f::FIN,
            TcpFlag::Syn => f::SYN,
            TcpFlag::Rst => f::RST,
            TcpFlag::Psh => f::PSH,
            TcpFlag::Ack => f::ACK,
            TcpFlag::Urg => f::URG,
            TcpFlag::None | TcpFlag::All => f::ALL,
        }
    }

    /// The canonical (upper-case) spelling.
    pub fn name(self) -> &'static str {
        match self {
            TcpFlag::Fin => "FIN",
            TcpFlag::Syn => "SYN",
            TcpFlag::Rst => "RST",
            TcpFlag::Psh => "PSH",
            TcpFlag::Ack => "ACK",
            TcpFlag::Urg => "URG",
            TcpFlag::None => "NONE",
            TcpFlag::All => "ALL",
        }
    }
}

impl FlagTerm {
    /// `(bits that must be set, bits that must be clear)` for this term.
    pub fn requirement(&self) -> (u8, u8) {
        match (self.flag, self.sign) {
            (TcpFlag::None, _) => (0, TcpFlag::None.bits()),
            (f, FlagSign::Clear) => (0, f.bits()),
            (f, _) => (f.bits(), 0),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Or { lhs, rhs, .. } => write!(f, "({lhs} | {rhs})"),
            Expr::And { lhs, rhs, .. } => write!(f, "({lhs} & {rhs})"),
            Expr::Cond(c) => write!(f, "({c})"),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl fmt::Display for CondKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CondKind::Any => f.write_str("any"),
            CondKind::Addr { var, op, value, .. } => write!(f, "{var} {op} {value}"),
            CondKind::Port { var, op, value } => write!(f, "{var} {op} {value}"),
            CondKind::Iface { var, op, value, .. } => write!(f, "{var} {op} {value}"),
            CondKind::Direc(DirecValue::In) => f.write_str("direc = in"),
            CondKind::Direc(DirecValue::Out) => f.write_str("direc = out"),
            CondKind::TcpFlags(terms) => {
                f.write_str("tcpfl =")?;
                for t in terms {
                    let sign = match t.sign {
                        FlagSign::Bare => "",
                        FlagSign::Set => "+",
                        FlagSign::Clear => "-",
                    };
                    write!(f, " {sign}{}", t.flag.name())?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for AddrVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddrVar::Addr => "addr",
            AddrVar::Saddr => "saddr",
            AddrVar::Daddr => "daddr",
        })
    }
}

impl fmt::Display for PortVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PortVar::Port => "port",
            PortVar::Sport => "sport",
            PortVar::Dport => "dport",
        })
    }
}

impl fmt::Display for IfVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IfVar::If => "if",
            IfVar::Iif => "iif",
            IfVar::Oif => "oif",
        })
    }
}

impl fmt::Display for EqOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EqOp::Eq => "=",
            EqOp::Ne => "!=",
        })
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        })
    }
}

impl fmt::Display for PortValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortValue::Single(p) => write!(f, "{p}"),
            PortValue::Range(a, b) => write!(f, "{a}-{b}"),
        }
    }
}

impl fmt::Display for AddrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddrValue::V4Host(a) => write!(f, "{a}"),
            AddrValue::V4Mask { addr, mask } => write!(f, "{addr}/{mask}"),
            AddrValue::V4Prefix { addr, len } => write!(f, "{addr}/{len}"),
            AddrValue::V4Range { first, last } => write!(f, "{first}-{last}"),
            AddrValue::V6Host(a) => write!(f, "{a}"),
            AddrValue::V6Prefix { addr, len } => write!(f, "{addr}/{len}"),
            AddrValue::V6Range { first, last } => write!(f, "{first}-{last}"),
            AddrValue::List { name, .. } => write!(f, "list:\"{name}\""),
            AddrValue::Users(items) => {
                f.write_str("user:\"")?;
                for (i, u) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    if u.is_group {
                        write!(f, "[{}]", u.name)?;
                    } else {
                        f.write_str(&u.name)?;
                    }
                }
                f.write_str("\"")
            }
        }
    }
}

impl fmt::Display for IfValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IfValue::Name(n) => write!(f, "\"{n}\""),
            IfValue::VpnClient => f.write_str("vpnclient"),
            IfValue::Vpn => f.write_str("vpn"),
            IfValue::VpnNamed(n) => write!(f, "vpn:\"{n}\""),
        }
    }
}
