//! Warnings for valid but suspicious expressions.
//!
//! - `port >= a & port <= b` (also `>`/`<`, either order, anywhere in one
//!   `&` chain): for `port` it holds when *one* port is at least `a` and
//!   *another* at most `b`; the range form `port = a-b` is almost always
//!   meant. For `sport`/`dport` the two forms agree; the warning suggests the
//!   shorter one.
//! - `any` combined with other conditions (the seed calls it meaningless).
#![forbid(unsafe_code)]

use super::ast::*;
use super::error::Warning;

/// All warnings for `expr`, parsed from `src`, in source order.
pub(crate) fn lint(src: &str, expr: &Expr) -> Vec<Warning> {
    let mut found: Vec<(usize, String)> = Vec::new();
    bounds_pairs(expr, &mut found);
    if !matches!(expr, Expr::Cond(_)) {
        expr.for_each_condition(&mut |c| {
            if c.kind == CondKind::Any {
                found.push((
                    c.span.start,
                    "`any` matches every IP packet; combining it with other conditions is \
                     meaningless"
                        .into(),
                ));
            }
        });
    }
    found.sort_by_key(|(at, _)| *at);
    found
        .into_iter()
        .map(|(at, message)| Warning::at(src, at, message))
        .collect()
}

fn conjuncts<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::And { lhs, rhs, .. } => {
            conjuncts(lhs, out);
            conjuncts(rhs, out);
        }
        other => out.push(other),
    }
}

/// `(var, lowest port, condition)` for `var >= n` / `var > n`.
fn lower_bound(c: &Condition) -> Option<(PortVar, u16)> {
    match c.kind {
        CondKind::Port {
            var,
            op: CmpOp::Ge,
            value: PortValue::Single(n),
        } => Some((var, n)),
        CondKind::Port {
            var,
            op: CmpOp::Gt,
            value: PortValue::Single(n),
        } => n.checked_add(1).map(|n| (var, n)),
        _ => None,
    }
}

fn upper_bound(c: &Condition) -> Option<(PortVar, u16)> {
    match c.kind {
        CondKind::Port {
            var,
            op: CmpOp::Le,
            value: PortValue::Single(n),
        } => Some((var, n)),
        CondKind::Port {
            var,
            op: CmpOp::Lt,
            value: PortValue::Single(n),
        } => n.checked_sub(1).map(|n| (var, n)),
        _ => None,
    }
}

fn bounds_pairs(e: &Expr, found: &mut Vec<(usize, String)>) {
    match e {
        Expr::Or { lhs, rhs, .. } => {
            bounds_pairs(lhs, found);
            bounds_pairs(rhs, found);
        }
        Expr::Cond(_) => {}
        Expr::And { .. } => {
            let mut parts = Vec::new();
            conjuncts(e, &mut parts);
            let conds: Vec<&Condition> = parts
                .iter()
                .filter_map(|p| match p {
                    Expr::Cond(c) => Some(c),
                    _ => None,
                })
                .collect();
            for lo in &conds {
                let Some((var, a)) = lower_bound(lo) else {
                    continue;
                };
                let upper = conds.iter().find_map(|hi| {
                    upper_bound(hi)
                        .filter(|(v, b)| *v == var && a <= *b)
                        .map(|(_, b)| (hi, b))
                });
                let Some((hi, b)) = upper else {
                    continue;
                };
                let at = lo.span.start.min(hi.span.start);
                let message = if var == PortVar::Port {
                    format!(
                        "`{lo} & {hi}` also matches a packet whose source port satisfies one \
                         side and destination port the other; write `port = {a}-{b}` to \
                         require one port inside the range"
                    )
                } else {
                    format!("`{lo} & {hi}` can be written `{var} = {a}-{b}`")
                };
                found.push((at, message));
            }
            for p in parts {
                if !matches!(p, Expr::Cond(_)) {
                    bounds_pairs(p, found);
                }
            }
        }
    }
}
