//! Resolved expression → [`Matcher`]: constant folding, then a flat branch
//! program.
//!
//! Promises: the program has no constant tests left (unless the whole
//! expression is constant, in which case it has no tests at all), every jump
//! goes forward, and `depth` is the deepest layer any remaining test needs.
#![forbid(unsafe_code)]

use super::ast::Expr;
use super::directory::Directory;
use super::error::{ExprError, Warning};
use super::lint::lint;
use super::matcher::{Matcher, Node, ACCEPT, REJECT};
use super::parser::parse;
use super::resolve::{resolve, RExpr};
use crate::wire::Depth;

/// A compiled expression and what the compiler learned on the way.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The expression fully parenthesized in canonical spelling, e.g.
    /// `((if = "Internet") & (((port >= 137) & (port <= 139)) | (port = 445)))`.
    pub normalized: String,
    /// The matcher.
    pub matcher: Matcher,
    /// Suspicious constructs (the expression still compiled).
    pub warnings: Vec<Warning>,
}

/// Parses, resolves against `dir`, and compiles `src`.
pub fn compile(src: &str, dir: &Directory) -> Result<Compiled, ExprError> {
    let ast = parse(src)?;
    let matcher = compile_parsed(src, &ast, dir)?;
    Ok(Compiled {
        normalized: ast.to_string(),
        matcher,
        warnings: lint(src, &ast),
    })
}

/// Compiles an expression already parsed from `src`.
pub(crate) fn compile_parsed(src: &str, ast: &Expr, dir: &Directory) -> Result<Matcher, ExprError> {
    let resolved = fold(resolve(src, ast, dir)?);
    let mut gen = Gen { nodes: Vec::new() };
    let entry = gen.emit(&resolved, ACCEPT, REJECT);
    // Emission put each node after the nodes it jumps to; reverse so that
    // every jump goes forward and execution starts at 0.
    let n = gen.nodes.len() as u32;
    let flip = |t: u32| {
        if t == ACCEPT || t == REJECT {
            t
        } else {
            n - 1 - t
        }
    };
    let nodes: Box<[Node]> = gen
        .nodes
        .into_iter()
        .rev()
        .map(|node| Node {
            on_true: flip(node.on_true),
            on_false: flip(node.on_false),
            test: node.test,
        })
        .collect();
    let depth = nodes
        .iter()
        .map(|n| n.test.depth())
        .max()
        .unwrap_or(Depth::Metadata);
    Ok(Matcher {
        entry: flip(entry),
        nodes,
        depth,
        if_names: dir.interfaces().iter().map(|i| i.name.clone()).collect(),
    })
}

/// Propagates constants upwards.
fn fold(e: RExpr) -> RExpr {
    match e {
        RExpr::Not(a) => match fold(*a) {
            RExpr::Const(b) => RExpr::Const(!b),
            RExpr::Not(inner) => *inner,
            a => RExpr::Not(Box::new(a)),
        },
        RExpr::And(a, b) => match (fold(*a), fold(*b)) {
            (RExpr::Const(false), _) | (_, RExpr::Const(false)) => RExpr::Const(false),
            (RExpr::Const(true), x) | (x, RExpr::Const(true)) => x,
            (a, b) => RExpr::And(Box::new(a), Box::new(b)),
        },
        RExpr::Or(a, b) => match (fold(*a), fold(*b)) {
            (RExpr::Const(true), _) | (_, RExpr::Const(true)) => RExpr::Const(true),
            (RExpr::Const(false), x) | (x, RExpr::Const(false)) => x,
            (a, b) => RExpr::Or(Box::new(a), Box::new(b)),
        },
        e => e,
    }
}

struct Gen {
    /// In emission order (reversed later).
    nodes: Vec<Node>,
}

impl Gen {
    /// Emits code for `e` that continues at `t` when it holds and at `f`
    /// otherwise; returns its entry.
    fn emit(&mut self, e: &RExpr, t: u32, f: u32) -> u32 {
        match e {
            RExpr::Const(true) => t,
            RExpr::Const(false) => f,
            RExpr::Test(test) => {
                self.nodes.push(Node {
                    test: test.clone(),
                    on_true: t,
                    on_false: f,
                });
                (self.nodes.len() - 1) as u32
            }
            RExpr::Not(a) => self.emit(a, f, t),
            RExpr::And(a, b) => {
                let b = self.emit(b, t, f);
                self.emit(a, b, f)
            }
            RExpr::Or(a, b) => {
                let b = self.emit(b, t, f);
                self.emit(a, t, b)
            }
        }
    }
}
