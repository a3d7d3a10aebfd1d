//! AST + [`Directory`] → resolved expression: every name replaced by what it
//! stands for, every condition lowered to packet [`Test`]s.
//!
//! Promises:
//! - Unknown IP groups, users, user groups, interfaces and VPNs are reported
//!   at the position where the name was written.
//! - Groups and user lists become merged address interval sets; interface
//!   values become interface sets; `oif` becomes a destination-address set
//!   (the addresses whose longest-prefix route leaves through the interface).
//! - Conditions that can never hold (an empty set, `port < 0`) become
//!   constants.
//!
//! The `!=` forms follow one rule: a `!=` condition holds when the thing
//! compared is known and differs. So `saddr != V` is false on non-IP packets
//! and on packets of a family `V` has no entries for; `addr != V` means
//! neither address is in `V`; `iif != X` is false when the incoming interface
//! is unknown; `oif != X` is false when no route matches; `if != X` holds when
//! at least one of the two interfaces is known and none of the known ones is
//! `X`. Port `!=` follows design.md: `port != 80` is `sport != 80 | dport != 80`.
#![forbid(unsafe_code)]

use super::ast::*;
use super::directory::{AddrSet, Directory, IfIndex, InterfaceKind, SetBuilder};
use super::error::{ExprError, ExprErrorKind as K};
use super::matcher::{Direction, IfSet, Test, Which};

/// A resolved expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RExpr {
    Const(bool),
    Test(Test),
    Not(Box<RExpr>),
    And(Box<RExpr>, Box<RExpr>),
    Or(Box<RExpr>, Box<RExpr>),
}

impl RExpr {
    fn and(a: RExpr, b: RExpr) -> RExpr {
        RExpr::And(Box::new(a), Box::new(b))
    }
    fn or(a: RExpr, b: RExpr) -> RExpr {
        RExpr::Or(Box::new(a), Box::new(b))
    }
    fn not(a: RExpr) -> RExpr {
        RExpr::Not(Box::new(a))
    }
}

/// Resolves `expr` (parsed from `src`, used for error positions).
pub(crate) fn resolve(src: &str, expr: &Expr, dir: &Directory) -> Result<RExpr, ExprError> {
    Resolver { src, dir }.expr(expr)
}

struct Resolver<'a> {
    src: &'a str,
    dir: &'a Directory,
}

fn addr_test(which: Which, negated: bool, set: AddrSet) -> RExpr {
    if set.v4.is_empty() && set.v6.is_empty() {
        return RExpr::Const(false);
    }
    RExpr::Test(Test::Addr {
        which,
        negated,
        set,
    })
}

fn iif_test(set: IfSet) -> RExpr {
    if set.is_empty() {
        return RExpr::Const(false);
    }
    RExpr::Test(Test::Iif(set))
}

/// The port ranges `p OP value` accepts (at most two).
fn port_ranges(op: CmpOp, value: PortValue) -> Vec<(u16, u16)> {
    let (lo, hi) = match value {
        PortValue::Single(v) => (v, v),
        PortValue::Range(a, b) => (a, b),
    };
    let below = lo.checked_sub(1).map(|p| (0, p));
    let above = hi.checked_add(1).map(|p| (p, u16::MAX));
    let r: Vec<Option<(u16, u16)>> = match op {
        CmpOp::Eq => vec![Some((lo, hi))],
        CmpOp::Ne => vec![below, above],
        CmpOp::Lt => vec![below],
        CmpOp::Le => vec![Some((0, hi))],
        CmpOp::Gt => vec![above],
        CmpOp::Ge => vec![Some((lo, u16::MAX))],
    };
    r.into_iter().flatten().collect()
}

impl Resolver<'_> {
    fn err(&self, offset: usize, kind: K, message: String) -> ExprError {
        ExprError::at(self.src, offset, kind, message)
    }

    fn expr(&self, e: &Expr) -> Result<RExpr, ExprError> {
        Ok(match e {
            Expr::Or { lhs, rhs, .. } => RExpr::or(self.expr(lhs)?, self.expr(rhs)?),
            Expr::And { lhs, rhs, .. } => RExpr::and(self.expr(lhs)?, self.expr(rhs)?),
            Expr::Cond(c) => self.condition(c)?,
        })
    }

    fn condition(&self, c: &Condition) -> Result<RExpr, ExprError> {
        Ok(match &c.kind {
            CondKind::Any => RExpr::Test(Test::IsIp),
            CondKind::Addr { var, op, value, .. } => {
                let which = match var {
                    AddrVar::Addr => Which::Either,
                    AddrVar::Saddr => Which::Src,
                    AddrVar::Daddr => Which::Dst,
                };
                addr_test(which, *op == EqOp::Ne, self.addr_set(value)?)
            }
            CondKind::Port { var, op, value } => {
                let rs = port_ranges(*op, *value);
                match (rs.first(), rs.get(1)) {
                    (None, _) => RExpr::Const(false),
                    (Some(&a), b) => RExpr::Test(Test::Port {
                        which: match var {
                            PortVar::Port => Which::Either,
                            PortVar::Sport => Which::Src,
                            PortVar::Dport => Which::Dst,
                        },
                        ranges: [a, b.copied().unwrap_or(a)],
                    }),
                }
            }
            CondKind::Iface {
                var,
                op,
                value,
                value_span,
            } => {
                let x: Vec<IfIndex> = self.interfaces(value, value_span.start)?;
                let all: Vec<IfIndex> = (0..self.dir.interfaces().len())
                    .filter_map(|i| u16::try_from(i).ok().map(IfIndex))
                    .collect();
                let not_x: Vec<IfIndex> = all.iter().copied().filter(|i| !x.contains(i)).collect();
                let iif = |s: &[IfIndex]| iif_test(IfSet::from_indices(s.iter().copied()));
                let oif = |s: &[IfIndex]| {
                    addr_test(Which::Dst, false, self.dir.routed_to(|i| s.contains(&i)))
                };
                match (var, op) {
                    (IfVar::Iif, EqOp::Eq) => iif(&x),
                    (IfVar::Iif, EqOp::Ne) => iif(&not_x),
                    (IfVar::Oif, EqOp::Eq) => oif(&x),
                    (IfVar::Oif, EqOp::Ne) => oif(&not_x),
                    (IfVar::If, EqOp::Eq) => RExpr::or(iif(&x), oif(&x)),
                    (IfVar::If, EqOp::Ne) => RExpr::or(
                        RExpr::and(iif(&not_x), RExpr::not(oif(&x))),
                        RExpr::and(RExpr::not(iif(&all)), oif(&not_x)),
                    ),
                }
            }
            CondKind::Direc(DirecValue::In) => RExpr::Test(Test::Direc(Direction::In)),
            CondKind::Direc(DirecValue::Out) => RExpr::Test(Test::Direc(Direction::Out)),
            CondKind::TcpFlags(terms) => {
                let (mut set, mut clear) = (0u8, 0u8);
                for t in terms {
                    let (s, c) = t.requirement();
                    set |= s;
                    clear |= c;
                }
                if set & clear != 0 {
                    // The parser rejects this; stay total anyway.
                    RExpr::Const(false)
                } else {
                    RExpr::Test(Test::Flags {
                        mask: set | clear,
                        value: set,
                    })
                }
            }
        })
    }

    fn interfaces(&self, value: &IfValue, at: usize) -> Result<Vec<IfIndex>, ExprError> {
        let of_kind = |pick: fn(InterfaceKind) -> bool| {
            self.dir
                .interfaces()
                .iter()
                .enumerate()
                .filter(|(_, d)| pick(d.kind))
                .filter_map(|(i, _)| u16::try_from(i).ok().map(IfIndex))
                .collect()
        };
        Ok(match value {
            IfValue::Name(n) => vec![self.dir.interface_index(n).ok_or_else(|| {
                self.err(
                    at,
                    K::UnknownInterface,
                    format!("unknown interface \"{n}\""),
                )
            })?],
            IfValue::VpnNamed(n) => {
                let i = self.dir.interface_index(n).ok_or_else(|| {
                    self.err(at, K::UnknownVpn, format!("unknown VPN interface \"{n}\""))
                })?;
                if !self.dir.interface(i).is_some_and(|d| d.kind.is_vpn()) {
                    return Err(self.err(
                        at,
                        K::UnknownVpn,
                        format!("interface \"{n}\" is not a VPN"),
                    ));
                }
                vec![i]
            }
            IfValue::VpnClient => of_kind(|k| k == InterfaceKind::VpnClient),
            IfValue::Vpn => of_kind(InterfaceKind::is_vpn),
        })
    }

    fn addr_set(&self, value: &AddrValue) -> Result<AddrSet, ExprError> {
        let mut b = SetBuilder::default();
        match value {
            AddrValue::List { name, span } => {
                let set = self.dir.ip_group_set(name).ok_or_else(|| {
                    self.err(
                        span.start,
                        K::UnknownIpGroup,
                        format!("unknown IP group \"{name}\""),
                    )
                })?;
                b.add_set(set);
            }
            AddrValue::Users(items) => {
                for u in items {
                    if u.is_group {
                        let members = self.dir.user_group(&u.name).ok_or_else(|| {
                            self.err(
                                u.span.start,
                                K::UnknownUserGroup,
                                format!("unknown user group \"{}\"", u.name),
                            )
                        })?;
                        for m in members {
                            if let Some(s) = self.dir.user_set(m) {
                                b.add_set(s);
                            }
                        }
                    } else {
                        let s = self.dir.user_set(&u.name).ok_or_else(|| {
                            self.err(
                                u.span.start,
                                K::UnknownUser,
                                format!("unknown user \"{}\"", u.name),
                            )
                        })?;
                        b.add_set(s);
                    }
                }
            }
            leaf => b.add_leaf(leaf),
        }
        Ok(b.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges_cover_each_operator() {
        use CmpOp::*;
        use PortValue::*;
        type Ranges = &'static [(u16, u16)];
        let cases: &[(CmpOp, PortValue, Ranges)] = &[
            (Eq, Single(80), &[(80, 80)]),
            (Ne, Single(80), &[(0, 79), (81, 65535)]),
            (Ne, Single(0), &[(1, 65535)]),
            (Ne, Single(65535), &[(0, 65534)]),
            (Lt, Single(0), &[]),
            (Lt, Single(1024), &[(0, 1023)]),
            (Le, Single(1024), &[(0, 1024)]),
            (Gt, Single(65535), &[]),
            (Gt, Single(1023), &[(1024, 65535)]),
            (Ge, Single(0), &[(0, 65535)]),
            (Eq, Range(137, 139), &[(137, 139)]),
            (Ne, Range(137, 139), &[(0, 136), (140, 65535)]),
            (Ne, Range(0, 65535), &[]),
        ];
        for (op, v, want) in cases {
            assert_eq!(port_ranges(*op, *v), *want, "{op} {v}");
        }
    }
}
