//! Resolved expression → [`Matcher`]: constant folding, then either a truth
//! table over the distinct tests (up to [`TABLE_MAX_TESTS`] of them) or a
//! flat branch program.
//!
//! Promises: no constant is left inside the plan (a constant expression has
//! no tests at all), identical tests run once, every program jump goes
//! forward, and `depth` is the deepest layer any remaining test needs.
#![forbid(unsafe_code)]

use super::ast::Expr;
use super::directory::{Directory, IfIndex};
use super::error::{ExprError, Warning};
use super::lint::lint;
use super::matcher::{
    bit, Direction, Matcher, Node, PacketMeta, Plan, Shape, Sub, TableTests, Test, Which, ACCEPT,
    REJECT, TABLE_MAX_TESTS,
};
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
    let mut tests: Vec<Test> = Vec::new();
    collect_tests(&resolved, &mut tests);
    let depth = tests
        .iter()
        .map(Test::depth)
        .max()
        .unwrap_or(Depth::Metadata);
    let (plan, formula) = if tests.len() <= TABLE_MAX_TESTS {
        // Display numbers the tests by kind; the table's bits follow the
        // decode stages, so that matching can stop after each stage.
        tests.sort_by_key(Test::kind_rank);
        let formula = formula(&resolved, &tests);
        let mut staged = tests.clone();
        staged.sort_by_key(Test::stage_rank);
        let table = truth_table(&resolved, &staged);
        let meta_bits = staged
            .iter()
            .filter(|t| t.depth() == Depth::Metadata)
            .count();
        let fast = TableTests::new(&staged);
        // One narrowed sub-plan per outcome of the metadata tests that
        // some (interface, direction) pair produces.
        let if_count = dir.interfaces().len();
        let mut sub_of_prefix: Vec<Option<u32>> = vec![None; 1 << meta_bits];
        let mut subs: Vec<Sub> = Vec::new();
        let mut meta_sub: Vec<u32> = Vec::with_capacity(3 * (if_count + 1));
        for i in 0..=if_count {
            let iif = u16::try_from(i).ok().filter(|_| i < if_count).map(IfIndex);
            for direction in [Direction::In, Direction::Out, Direction::Unknown] {
                let p = fast.meta_index(&PacketMeta { iif, direction });
                let Some(slot) = sub_of_prefix.get_mut(p) else {
                    continue;
                };
                let s = *slot.get_or_insert_with(|| {
                    subs.push(narrow(&staged, &table, meta_bits, p));
                    u32::try_from(subs.len() - 1).unwrap_or(u32::MAX)
                });
                meta_sub.push(s);
            }
        }
        (
            Plan::Table {
                fast,
                tests: tests.into_boxed_slice(),
                table,
                if_count,
                meta_sub: meta_sub.into_boxed_slice(),
                subs: subs.into_boxed_slice(),
            },
            formula,
        )
    } else {
        (program(&resolved), String::new())
    };
    Ok(Matcher {
        plan,
        depth,
        if_names: dir.interfaces().iter().map(|i| i.name.clone()).collect(),
        formula,
    })
}

/// Distinct tests, in order of first appearance.
fn collect_tests(e: &RExpr, out: &mut Vec<Test>) {
    match e {
        RExpr::Const(_) => {}
        RExpr::Test(t) => {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
        RExpr::Not(a) => collect_tests(a, out),
        RExpr::And(a, b) | RExpr::Or(a, b) => {
            collect_tests(a, out);
            collect_tests(b, out);
        }
    }
}

/// The value of `e` when test `i` has the value of bit `i` of `bits`.
fn eval_bits(e: &RExpr, tests: &[Test], bits: usize) -> bool {
    match e {
        RExpr::Const(b) => *b,
        RExpr::Test(t) => tests
            .iter()
            .position(|x| x == t)
            .is_some_and(|i| (bits >> i) & 1 != 0),
        RExpr::Not(a) => !eval_bits(a, tests, bits),
        RExpr::And(a, b) => eval_bits(a, tests, bits) && eval_bits(b, tests, bits),
        RExpr::Or(a, b) => eval_bits(a, tests, bits) || eval_bits(b, tests, bits),
    }
}

fn truth_table(e: &RExpr, tests: &[Test]) -> Box<[u64]> {
    let rows = 1usize << tests.len();
    let mut table = vec![0u64; rows.div_ceil(64)];
    for bits in 0..rows {
        if eval_bits(e, tests, bits) {
            if let Some(w) = table.get_mut(bits / 64) {
                *w |= 1 << (bits % 64);
            }
        }
    }
    table.into_boxed_slice()
}

/// The sub-plan of the network and transport `tests` (in stage order)
/// with truth table `table`.
fn sub(tests: &[Test], table: Box<[u64]>) -> Sub {
    let n = tests.len();
    let net_bits = tests.iter().filter(|t| t.depth() <= Depth::Network).count();
    Sub {
        tests: TableTests::new(tests),
        depth: tests
            .iter()
            .map(Test::depth)
            .max()
            .unwrap_or(Depth::Metadata),
        known_net: decided(&table, n, net_bits),
        shape: Shape::of(tests, &table),
        table,
    }
}

/// Whenever test `a` holds, does test `b`? (Sound, not complete: `false`
/// means "not known".) Address tests hold only for IP packets, and an
/// address in a subset of another test's set is in that set too.
fn implies(a: &Test, b: &Test) -> bool {
    match (a, b) {
        (Test::Addr { .. }, Test::IsIp) => true,
        (
            Test::Addr {
                which: wa,
                negated: false,
                set: sa,
            },
            Test::Addr {
                which: wb,
                negated: false,
                set: sb,
            },
        ) => {
            (wa == wb || *wb == Which::Either)
                && subset(sa.v4.ranges(), sb.v4.ranges())
                && subset(sa.v6.ranges(), sb.v6.ranges())
        }
        _ => a == b,
    }
}

/// Is every interval of `a` inside one of `b`'s?
fn subset<T: Ord>(a: &[(T, T)], b: &[(T, T)]) -> bool {
    a.iter()
        .all(|(lo, hi)| b.iter().any(|(l, h)| l <= lo && hi <= h))
}

/// The sub-plan for the packets whose first `fixed` tests (the metadata
/// tests) have the bits `prefix`: the other tests that can still change
/// the answer, with their own truth table.
///
/// Rows that no packet can produce (a test false although a test that
/// [`implies`] it holds) do not count: a test is dropped when flipping it
/// never changes the answer between two rows that packets can produce.
/// Dropping one test can make another droppable, so this repeats until
/// every test left matters. The invariant: for every row a packet can
/// produce, `g` at its kept bits is `Some` of the table's answer.
fn narrow(tests: &[Test], table: &[u64], fixed: usize, prefix: usize) -> Sub {
    let n = tests.len();
    let free: Vec<usize> = (fixed..n).collect();
    let implications: Vec<(usize, usize)> = free
        .iter()
        .flat_map(|&i| free.iter().map(move |&j| (i, j)))
        .filter(|&(i, j)| i != j)
        .filter(|&(i, j)| match (tests.get(i), tests.get(j)) {
            (Some(a), Some(b)) => implies(a, b),
            _ => false,
        })
        .collect();
    let possible = |row: usize| {
        implications
            .iter()
            .all(|&(i, j)| (row >> i) & 1 == 0 || (row >> j) & 1 == 1)
    };
    let mut kept = free;
    let mut g: Vec<Option<bool>> = (0..1usize << kept.len())
        .map(|q| {
            let row = prefix | (q << fixed);
            possible(row).then(|| bit(table, row))
        })
        .collect();
    loop {
        let droppable = (0..kept.len()).find(|&k| {
            (0..g.len()).filter(|q| (q >> k) & 1 == 0).all(|q| {
                match (
                    g.get(q).copied().flatten(),
                    g.get(q | (1 << k)).copied().flatten(),
                ) {
                    (Some(x), Some(y)) => x == y,
                    _ => true,
                }
            })
        });
        let Some(k) = droppable else {
            break;
        };
        kept.remove(k);
        let low = (1usize << k) - 1;
        g = (0..1usize << kept.len())
            .map(|q| {
                let q0 = (q & low) | ((q & !low) << 1);
                let zero = g.get(q0).copied().flatten();
                zero.or_else(|| g.get(q0 | (1 << k)).copied().flatten())
            })
            .collect();
    }
    let mut tests: Vec<Test> = kept.iter().filter_map(|&j| tests.get(j).cloned()).collect();
    while let Some((a, b, merged)) = mergeable_ports(&tests, &g) {
        // Test `a` becomes `a | b`; `b` goes. Where the merged test holds,
        // every known row with `a | b` has the same answer.
        if let Some(t) = tests.get_mut(a) {
            *t = merged;
        }
        tests.remove(b);
        let low = (1usize << b) - 1;
        g = (0..1usize << tests.len())
            .map(|q| {
                let q0 = (q & low) | ((q & !low) << 1);
                if (q0 >> a) & 1 == 0 {
                    return g.get(q0).copied().flatten();
                }
                [q0, q0 ^ (1 << a) | (1 << b), q0 | (1 << b)]
                    .iter()
                    .find_map(|&r| g.get(r).copied().flatten())
            })
            .collect();
    }
    // The table's bits follow `TableTests`, which numbers the tests by
    // `stage_rank` (single-range ports before two-range ones): a merged
    // test may have to move behind single-range port tests after it.
    let mut order: Vec<usize> = (0..tests.len()).collect();
    order.sort_by_key(|&i| tests.get(i).map_or(u8::MAX, Test::stage_rank));
    if order.iter().enumerate().any(|(k, &i)| k != i) {
        g = (0..g.len())
            .map(|q| {
                let old = order
                    .iter()
                    .enumerate()
                    .fold(0usize, |row, (k, &i)| row | (((q >> k) & 1) << i));
                g.get(old).copied().flatten()
            })
            .collect();
        tests = order
            .iter()
            .filter_map(|&i| tests.get(i).cloned())
            .collect();
    }
    let mut narrowed = vec![0u64; g.len().div_ceil(64)];
    for (q, v) in g.iter().enumerate() {
        if *v == Some(true) {
            if let Some(w) = narrowed.get_mut(q / 64) {
                *w |= 1 << (q % 64);
            }
        }
    }
    sub(&tests, narrowed.into_boxed_slice())
}

/// Two single-range port tests `a < b` on the same port(s) that the answer
/// `g` depends on only through `a | b` (every row with one or both of them
/// true has the same answer as with just `a`), and the test for the union.
fn mergeable_ports(tests: &[Test], g: &[Option<bool>]) -> Option<(usize, usize, Test)> {
    let single = |t: &Test| match t {
        Test::Port { which, ranges } if ranges[0] == ranges[1] => Some((*which, ranges[0])),
        _ => None,
    };
    for (a, ta) in tests.iter().enumerate() {
        let Some((wa, ra)) = single(ta) else {
            continue;
        };
        for (b, tb) in tests.iter().enumerate().skip(a + 1) {
            let Some((wb, rb)) = single(tb) else {
                continue;
            };
            if wa != wb {
                continue;
            }
            let only_or_matters = (0..g.len())
                .filter(|q| (q >> a) & 1 == 0 && (q >> b) & 1 == 0)
                .all(|q| {
                    let with_a = g.get(q | (1 << a)).copied().flatten();
                    [q | (1 << b), q | (1 << a) | (1 << b)].iter().all(|&r| {
                        match (with_a, g.get(r).copied().flatten()) {
                            (Some(x), Some(y)) => x == y,
                            _ => true,
                        }
                    })
                });
            if only_or_matters {
                let merged = Test::Port {
                    which: wa,
                    ranges: [ra, rb],
                };
                return Some((a, b, merged));
            }
        }
    }
    None
}

/// Bit `p` (for each `p` below `2^k`) is set when every row of the
/// `n`-test truth table `table` whose low `k` bits are `p` has the same
/// value: the first `k` tests decide the answer. Empty when no `p` does.
fn decided(table: &[u64], n: usize, k: usize) -> Box<[u64]> {
    let at = |row: usize| bit(table, row);
    let prefixes = 1usize << k;
    let mut known = vec![0u64; prefixes.div_ceil(64)];
    let mut any = false;
    for p in 0..prefixes {
        let first = at(p);
        if (1..1usize << (n - k)).all(|rest| at(p | (rest << k)) == first) {
            if let Some(w) = known.get_mut(p / 64) {
                *w |= 1 << (p % 64);
                any = true;
            }
        }
    }
    if any {
        known.into_boxed_slice()
    } else {
        Box::default()
    }
}

fn formula(e: &RExpr, tests: &[Test]) -> String {
    match e {
        RExpr::Const(b) => b.to_string(),
        RExpr::Test(t) => match tests.iter().position(|x| x == t) {
            Some(i) => format!("t{i}"),
            None => "?".into(),
        },
        RExpr::Not(a) => format!("!{}", formula(a, tests)),
        RExpr::And(a, b) => format!("({} & {})", formula(a, tests), formula(b, tests)),
        RExpr::Or(a, b) => format!("({} | {})", formula(a, tests), formula(b, tests)),
    }
}

fn program(e: &RExpr) -> Plan {
    let mut gen = Gen { nodes: Vec::new() };
    let entry = gen.emit(e, ACCEPT, REJECT);
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
    Plan::Program {
        nodes,
        entry: flip(entry),
    }
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
