//! A deliberately naive interpreter of the expression semantics, straight
//! from the AST, for testing the compiled [`Matcher`](super::Matcher).
//!
//! It shares no evaluation code with the matcher: it scans IP groups and
//! users entry by entry (recursing into named groups), compares addresses
//! with shifts rather than interval sets, and finds the `oif` route by
//! scanning the whole route table for the longest match. It is slow and
//! allocates; never use it on the packet path.
#![forbid(unsafe_code)]

use std::net::IpAddr;

use super::ast::*;
use super::directory::{Directory, GroupEntry, IfIndex, InterfaceKind, Prefix};
use super::matcher::{Direction, PacketMeta};
use crate::wire::{Decoded, L3};

/// A name the expression uses is not in the directory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// `list:"…"` names no IP group.
    #[error("unknown IP group \"{0}\"")]
    UnknownIpGroup(String),
    /// `user:"…"` names no user.
    #[error("unknown user \"{0}\"")]
    UnknownUser(String),
    /// `user:"[…]"` names no user group.
    #[error("unknown user group \"{0}\"")]
    UnknownUserGroup(String),
    /// No interface of that name.
    #[error("unknown interface \"{0}\"")]
    UnknownInterface(String),
    /// `vpn:"…"` names something that is not a VPN interface.
    #[error("no VPN interface \"{0}\"")]
    UnknownVpn(String),
}

/// Does the packet satisfy `expr`? Both operands of `&` and `|` are always
/// evaluated, so an unknown name is reported whatever the packet.
pub fn eval(
    expr: &Expr,
    dir: &Directory,
    meta: &PacketMeta,
    d: &Decoded,
) -> Result<bool, EvalError> {
    match expr {
        Expr::Or { lhs, rhs, .. } => {
            let a = eval(lhs, dir, meta, d)?;
            let b = eval(rhs, dir, meta, d)?;
            Ok(a || b)
        }
        Expr::And { lhs, rhs, .. } => {
            let a = eval(lhs, dir, meta, d)?;
            let b = eval(rhs, dir, meta, d)?;
            Ok(a && b)
        }
        Expr::Cond(c) => condition(&c.kind, dir, meta, d),
    }
}

fn packet_addrs(d: &Decoded) -> Option<(IpAddr, IpAddr)> {
    match d.l3 {
        L3::None => None,
        L3::V4 { src, dst } => Some((IpAddr::V4(src.into()), IpAddr::V4(dst.into()))),
        L3::V6 { src, dst } => Some((IpAddr::V6(src.into()), IpAddr::V6(dst.into()))),
    }
}

fn condition(
    c: &CondKind,
    dir: &Directory,
    meta: &PacketMeta,
    d: &Decoded,
) -> Result<bool, EvalError> {
    match c {
        CondKind::Any => Ok(packet_addrs(d).is_some()),
        CondKind::Addr { var, op, value, .. } => {
            // Check names first so errors don't depend on the packet.
            value_has(value, dir, &|_| true)?;
            let Some((src, dst)) = packet_addrs(d) else {
                return Ok(false);
            };
            let candidates = match var {
                AddrVar::Saddr => vec![src],
                AddrVar::Daddr => vec![dst],
                AddrVar::Addr => vec![src, dst],
            };
            let mut hit = false;
            for a in &candidates {
                if value_has(value, dir, &|leaf| leaf_contains(leaf, *a))? {
                    hit = true;
                }
            }
            match op {
                EqOp::Eq => Ok(hit),
                EqOp::Ne => {
                    let v4 = src.is_ipv4();
                    let family = value_has(value, dir, &|leaf| leaf_is_v4(leaf) == v4)?;
                    Ok(family && !hit)
                }
            }
        }
        CondKind::Port { var, op, value } => {
            let Some((s, t)) = d.ports else {
                return Ok(false);
            };
            let candidates = match var {
                PortVar::Sport => vec![s],
                PortVar::Dport => vec![t],
                PortVar::Port => vec![s, t],
            };
            Ok(candidates.into_iter().any(|p| port_cmp(p, *op, *value)))
        }
        CondKind::Iface { var, op, value, .. } => {
            let is_x = |i: IfIndex| -> Result<bool, EvalError> {
                let Some(def) = dir.interface(i) else {
                    return Ok(false);
                };
                Ok(match value {
                    IfValue::Name(n) => def.name == *n,
                    IfValue::VpnClient => def.kind == InterfaceKind::VpnClient,
                    IfValue::Vpn => {
                        def.kind == InterfaceKind::VpnClient || def.kind == InterfaceKind::VpnTunnel
                    }
                    IfValue::VpnNamed(n) => def.name == *n,
                })
            };
            // Validate the name.
            match value {
                IfValue::Name(n) => {
                    if !dir.interfaces().iter().any(|i| i.name == *n) {
                        return Err(EvalError::UnknownInterface(n.clone()));
                    }
                }
                IfValue::VpnNamed(n) => {
                    let ok = dir.interfaces().iter().any(|i| {
                        i.name == *n
                            && (i.kind == InterfaceKind::VpnClient
                                || i.kind == InterfaceKind::VpnTunnel)
                    });
                    if !ok {
                        return Err(EvalError::UnknownVpn(n.clone()));
                    }
                }
                IfValue::VpnClient | IfValue::Vpn => {}
            }
            let iif = meta
                .iif
                .filter(|i| usize::from(i.0) < dir.interfaces().len());
            let oif = packet_addrs(d).and_then(|(_, dst)| longest_route(dir, dst));
            let known: Vec<IfIndex> = match var {
                IfVar::Iif => iif.into_iter().collect(),
                IfVar::Oif => oif.into_iter().collect(),
                IfVar::If => iif.into_iter().chain(oif).collect(),
            };
            let mut any_x = false;
            for i in &known {
                if is_x(*i)? {
                    any_x = true;
                }
            }
            Ok(match op {
                EqOp::Eq => any_x,
                EqOp::Ne => !known.is_empty() && !any_x,
            })
        }
        CondKind::Direc(v) => Ok(match v {
            DirecValue::In => meta.direction == Direction::In,
            DirecValue::Out => meta.direction == Direction::Out,
        }),
        CondKind::TcpFlags(terms) => {
            let Some(f) = d.tcp_flags else {
                return Ok(false);
            };
            let six = [0x01u8, 0x02, 0x04, 0x08, 0x10, 0x20];
            Ok(terms.iter().all(|t| match (t.flag, t.sign) {
                (TcpFlag::None, _) => six.iter().all(|b| f & b == 0),
                (TcpFlag::All, FlagSign::Clear) => six.iter().all(|b| f & b == 0),
                (TcpFlag::All, _) => six.iter().all(|b| f & b != 0),
                (flag, FlagSign::Clear) => f & single_flag(flag) == 0,
                (flag, _) => f & single_flag(flag) != 0,
            }))
        }
    }
}

fn single_flag(f: TcpFlag) -> u8 {
    match f {
        TcpFlag::Fin => 1,
        TcpFlag::Syn => 2,
        TcpFlag::Rst => 4,
        TcpFlag::Psh => 8,
        TcpFlag::Ack => 16,
        TcpFlag::Urg => 32,
        TcpFlag::None | TcpFlag::All => 0,
    }
}

fn port_cmp(p: u16, op: CmpOp, v: PortValue) -> bool {
    match v {
        PortValue::Single(v) => match op {
            CmpOp::Eq => p == v,
            CmpOp::Ne => p != v,
            CmpOp::Lt => p < v,
            CmpOp::Le => p <= v,
            CmpOp::Gt => p > v,
            CmpOp::Ge => p >= v,
        },
        PortValue::Range(a, b) => {
            let inside = a <= p && p <= b;
            match op {
                CmpOp::Ne => !inside,
                _ => inside,
            }
        }
    }
}

/// Is `f` true for some address leaf `value` stands for (recursing through
/// groups and users)?
fn value_has(
    value: &AddrValue,
    dir: &Directory,
    f: &dyn Fn(&AddrValue) -> bool,
) -> Result<bool, EvalError> {
    match value {
        AddrValue::List { name, .. } => group_has(name, dir, f),
        AddrValue::Users(items) => {
            let mut hit = false;
            for u in items {
                let users: Vec<String> = if u.is_group {
                    dir.user_group(&u.name)
                        .ok_or_else(|| EvalError::UnknownUserGroup(u.name.clone()))?
                        .to_vec()
                } else {
                    vec![u.name.clone()]
                };
                for name in users {
                    let addrs = dir
                        .user(&name)
                        .ok_or_else(|| EvalError::UnknownUser(name.clone()))?;
                    if addrs.iter().any(f) {
                        hit = true;
                    }
                }
            }
            Ok(hit)
        }
        leaf => Ok(f(leaf)),
    }
}

fn group_has(
    name: &str,
    dir: &Directory,
    f: &dyn Fn(&AddrValue) -> bool,
) -> Result<bool, EvalError> {
    let entries = dir
        .ip_group(name)
        .ok_or_else(|| EvalError::UnknownIpGroup(name.to_string()))?;
    for e in entries {
        let hit = match e {
            GroupEntry::Addr(v) => f(v),
            GroupEntry::Group(g) => group_has(g, dir, f)?,
        };
        if hit {
            return Ok(true);
        }
    }
    Ok(false)
}

fn leaf_is_v4(v: &AddrValue) -> bool {
    matches!(
        v,
        AddrValue::V4Host(_)
            | AddrValue::V4Mask { .. }
            | AddrValue::V4Prefix { .. }
            | AddrValue::V4Range { .. }
    )
}

/// Do the top `len` bits of `a` and `b` agree (`bits` wide)?
fn same_top_bits(a: u128, b: u128, len: u32, bits: u32) -> bool {
    if len == 0 {
        return true;
    }
    let shift = bits - len.min(bits);
    (a >> shift) == (b >> shift)
}

fn leaf_contains(v: &AddrValue, a: IpAddr) -> bool {
    match (v, a) {
        (AddrValue::V4Host(h), IpAddr::V4(x)) => *h == x,
        (AddrValue::V4Mask { addr, mask }, IpAddr::V4(x)) => {
            let m = u32::from(*mask);
            u32::from(x) & m == u32::from(*addr) & m
        }
        (AddrValue::V4Prefix { addr, len }, IpAddr::V4(x)) => same_top_bits(
            u32::from(x).into(),
            u32::from(*addr).into(),
            (*len).into(),
            32,
        ),
        (AddrValue::V4Range { first, last }, IpAddr::V4(x)) => *first <= x && x <= *last,
        (AddrValue::V6Host(h), IpAddr::V6(x)) => *h == x,
        (AddrValue::V6Prefix { addr, len }, IpAddr::V6(x)) => {
            same_top_bits(x.into(), (*addr).into(), (*len).into(), 128)
        }
        (AddrValue::V6Range { first, last }, IpAddr::V6(x)) => *first <= x && x <= *last,
        _ => false,
    }
}

/// The interface of the longest route containing `dst`, by scanning every
/// route.
fn longest_route(dir: &Directory, dst: IpAddr) -> Option<IfIndex> {
    let mut best: Option<(u8, IfIndex)> = None;
    for r in dir.routes() {
        let (hit, len) = match (r.prefix, dst) {
            (Prefix::V4 { net, len }, IpAddr::V4(x)) => (
                same_top_bits(u32::from(x).into(), net.into(), len.into(), 32),
                len,
            ),
            (Prefix::V6 { net, len }, IpAddr::V6(x)) => {
                (same_top_bits(x.into(), net, len.into(), 128), len)
            }
            _ => (false, 0),
        };
        if hit && best.map_or(true, |(l, _)| len > l) {
            best = Some((len, r.iface));
        }
    }
    best.map(|(_, i)| i)
}
