//! Source text → typed [`ast::Expr`](super::ast::Expr).
//!
//! Promises: pest's `Pair`s never leave this module; every value is checked
//! (see [`super::ast`]); every failure is an [`ExprError`] positioned at the
//! offending character, and syntax errors list the expected tokens by their
//! readable names. Nesting is bounded ([`MAX_PAREN_DEPTH`],
//! [`MAX_CONDITIONS`]) so that no later recursive stage can exhaust the stack.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;
use pest::Parser as _;

use super::ast::*;
use super::error::{ExprError, ExprErrorKind as K};
use pest_impl::{ExprParser, Rule};

/// Deepest parenthesis nesting accepted.
pub const MAX_PAREN_DEPTH: usize = 64;
/// Most conditions accepted in one expression.
pub const MAX_CONDITIONS: usize = 1000;

mod pest_impl {
    #![allow(missing_docs, unreachable_pub)]
    #[derive(pest_derive::Parser)]
    #[grammar = "expr/grammar.pest"]
    pub struct ExprParser;
}

/// Parses an expression.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    if src.trim().is_empty() {
        let mut e = ExprError::at(
            src,
            src.len(),
            K::Empty,
            "empty expression; expected a condition such as `any` or `dport = 80`".into(),
        );
        e.expected = START_TOKENS.iter().map(|s| s.to_string()).collect();
        return Err(e);
    }
    check_nesting(src)?;
    let pairs = ExprParser::parse(Rule::main, src).map_err(|e| syntax_error(src, e))?;
    let mut b = Builder { src, conditions: 0 };
    for pair in pairs {
        if pair.as_rule() == Rule::expr {
            return b.expr(pair);
        }
    }
    Err(ExprError::at(
        src,
        0,
        K::Syntax,
        "no expression found".into(),
    ))
}

/// Parses one address value as it may appear after `addr =` (used for the
/// entries of IP groups, users and routes in the directory).
pub(crate) fn parse_addr_value(src: &str) -> Result<AddrValue, ExprError> {
    let pairs = ExprParser::parse(Rule::addr_entry, src).map_err(|e| syntax_error(src, e))?;
    let mut b = Builder { src, conditions: 0 };
    for pair in pairs {
        if pair.as_rule() == Rule::addr_value {
            return b.addr_value(pair);
        }
    }
    Err(ExprError::at(src, 0, K::Syntax, "no address found".into()))
}

const START_TOKENS: &[&str] = &[
    "`(`", "`any`", "`addr`", "`saddr`", "`daddr`", "`port`", "`sport`", "`dport`", "`if`",
    "`iif`", "`oif`", "`direc`", "`tcpfl`",
];

fn check_nesting(src: &str) -> Result<(), ExprError> {
    let (mut depth, mut quoted) = (0usize, false);
    for (i, c) in src.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '\n' => quoted = false,
            '(' if !quoted => {
                depth += 1;
                if depth > MAX_PAREN_DEPTH {
                    return Err(ExprError::at(
                        src,
                        i,
                        K::TooComplex,
                        format!("parentheses nest deeper than {MAX_PAREN_DEPTH} levels"),
                    ));
                }
            }
            ')' if !quoted => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn token_names(rule: Rule) -> &'static [&'static str] {
    match rule {
        Rule::EOI => &["end of expression"],
        Rule::expr | Rule::conj => START_TOKENS,
        Rule::any_cond | Rule::kw_any => &["`any`"],
        Rule::addr_cond | Rule::addr_var => &["`addr`", "`saddr`", "`daddr`"],
        Rule::port_cond | Rule::port_var => &["`port`", "`sport`", "`dport`"],
        Rule::if_cond | Rule::if_var => &["`if`", "`iif`", "`oif`"],
        Rule::direc_cond | Rule::kw_direc => &["`direc`"],
        Rule::tcpfl_cond | Rule::kw_tcpfl => &["`tcpfl`"],
        Rule::kw_addr => &["`addr`"],
        Rule::kw_saddr => &["`saddr`"],
        Rule::kw_daddr => &["`daddr`"],
        Rule::kw_port => &["`port`"],
        Rule::kw_sport => &["`sport`"],
        Rule::kw_dport => &["`dport`"],
        Rule::kw_if => &["`if`"],
        Rule::kw_iif => &["`iif`"],
        Rule::kw_oif => &["`oif`"],
        Rule::direc_value => &["`in`", "`out`"],
        Rule::kw_in => &["`in`"],
        Rule::kw_out => &["`out`"],
        Rule::kw_list | Rule::list_value => &["`list:\"…\"`"],
        Rule::kw_user | Rule::user_value => &["`user:\"…\"`"],
        Rule::addr_value => &["IP address", "`list:\"…\"`", "`user:\"…\"`"],
        Rule::if_value => &["quoted name", "`vpnclient`", "`vpn`", "`vpn:\"…\"`"],
        Rule::kw_vpn => &["`vpn`"],
        Rule::vpn_named => &["`vpn:\"…\"`"],
        Rule::kw_vpnclient => &["`vpnclient`"],
        Rule::eq_op => &["`=`", "`!=`"],
        Rule::cmp_op => &["`=`", "`!=`", "`<`", "`<=`", "`>`", "`>=`"],
        Rule::op_eq => &["`=`"],
        Rule::op_ne => &["`!=`"],
        Rule::op_lt => &["`<`"],
        Rule::op_le => &["`<=`"],
        Rule::op_gt => &["`>`"],
        Rule::op_ge => &["`>=`"],
        Rule::or_op => &["`|`"],
        Rule::and_op => &["`&`"],
        Rule::lparen => &["`(`"],
        Rule::rparen => &["`)`"],
        Rule::colon => &["`:`"],
        Rule::dash | Rule::minus => &["`-`"],
        Rule::slash => &["`/`"],
        Rule::plus => &["`+`"],
        Rule::flag_sign => &["`+`", "`-`"],
        Rule::flag_term => &["`+`", "`-`", "TCP flag name"],
        Rule::number | Rule::port_value => &["port number"],
        Rule::addr_token | Rule::addr_single | Rule::addr_range | Rule::addr_prefix => {
            &["IP address"]
        }
        Rule::quoted | Rule::quoted_inner => &["quoted name"],
        Rule::flag_name => &["TCP flag name"],
        _ => &[],
    }
}

fn syntax_error(src: &str, e: pest::error::Error<Rule>) -> ExprError {
    let pos = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((p, _)) => p,
    };
    let mut expected: Vec<String> = Vec::new();
    if let ErrorVariant::ParsingError { positives, .. } = &e.variant {
        for r in positives {
            for name in token_names(*r) {
                if !expected.iter().any(|x| x == name) {
                    expected.push(name.to_string());
                }
            }
        }
    }
    // "end of expression" reads best last.
    expected.sort_by_key(|t| t == "end of expression");
    let found = found_at(src, pos);
    let message = match expected.len() {
        0 => format!("unexpected {found}"),
        1 => format!("unexpected {found}, expected {}", expected[0]),
        _ => format!(
            "unexpected {found}, expected one of: {}",
            expected.join(", ")
        ),
    };
    let mut err = ExprError::at(src, pos, K::Syntax, message);
    err.expected = expected;
    err
}

/// A short description of the text at `pos` for "unexpected …".
fn found_at(src: &str, pos: usize) -> String {
    let rest = src.get(pos..).unwrap_or("");
    let mut chars = rest.chars();
    match chars.next() {
        None => "end of expression".into(),
        Some('\n') | Some('\r') => "end of line".into(),
        Some(c) if c.is_alphanumeric() => {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .take(24)
                .collect();
            format!("`{word}`")
        }
        Some(c) => format!("`{c}`"),
    }
}

struct Builder<'s> {
    src: &'s str,
    conditions: usize,
}

/// The pair's span without trailing white space (which pest's implicit
/// white space can leave inside a rule).
fn span_of(p: &Pair<'_, Rule>) -> Span {
    let start = p.as_span().start();
    Span::new(start, start + p.as_str().trim_end().len())
}

impl Builder<'_> {
    fn err(&self, offset: usize, kind: K, message: String) -> ExprError {
        ExprError::at(self.src, offset, kind, message)
    }

    fn expr(&mut self, pair: Pair<'_, Rule>) -> Result<Expr, ExprError> {
        let mut acc: Option<Expr> = None;
        for p in pair.into_inner() {
            if p.as_rule() != Rule::conj {
                continue;
            }
            let rhs = self.conj(p)?;
            acc = Some(match acc {
                None => rhs,
                Some(lhs) => {
                    let span = Span::new(lhs.span().start, rhs.span().end);
                    Expr::Or {
                        lhs: Box::new(lhs),
                        rhs: Box::new(rhs),
                        span,
                    }
                }
            });
        }
        acc.ok_or_else(|| self.err(0, K::Syntax, "empty expression".into()))
    }

    fn conj(&mut self, pair: Pair<'_, Rule>) -> Result<Expr, ExprError> {
        let mut acc: Option<Expr> = None;
        for p in pair.into_inner() {
            let rhs = match p.as_rule() {
                Rule::expr => self.expr(p)?,
                Rule::lparen | Rule::rparen | Rule::and_op => continue,
                _ => Expr::Cond(self.condition(p)?),
            };
            acc = Some(match acc {
                None => rhs,
                Some(lhs) => {
                    let span = Span::new(lhs.span().start, rhs.span().end);
                    Expr::And {
                        lhs: Box::new(lhs),
                        rhs: Box::new(rhs),
                        span,
                    }
                }
            });
        }
        acc.ok_or_else(|| self.err(0, K::Syntax, "empty expression".into()))
    }

    fn condition(&mut self, pair: Pair<'_, Rule>) -> Result<Condition, ExprError> {
        let span = span_of(&pair);
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return Err(self.err(
                span.start,
                K::TooComplex,
                format!("more than {MAX_CONDITIONS} conditions"),
            ));
        }
        let rule = pair.as_rule();
        let parts: Vec<Pair<'_, Rule>> = pair.into_inner().collect();
        let kind = match rule {
            Rule::any_cond => CondKind::Any,
            Rule::addr_cond => {
                let [var, op, value] = three(parts).ok_or_else(|| self.internal(span))?;
                let var = match first_rule(&var) {
                    Some(Rule::kw_saddr) => AddrVar::Saddr,
                    Some(Rule::kw_daddr) => AddrVar::Daddr,
                    _ => AddrVar::Addr,
                };
                let value_span = span_of(&value);
                CondKind::Addr {
                    var,
                    op: eq_op(&op),
                    value: self.addr_value(value)?,
                    value_span,
                }
            }
            Rule::port_cond => {
                let [var, op, value] = three(parts).ok_or_else(|| self.internal(span))?;
                let var = match first_rule(&var) {
                    Some(Rule::kw_sport) => PortVar::Sport,
                    Some(Rule::kw_dport) => PortVar::Dport,
                    _ => PortVar::Port,
                };
                let op = match first_rule(&op) {
                    Some(Rule::op_ne) => CmpOp::Ne,
                    Some(Rule::op_lt) => CmpOp::Lt,
                    Some(Rule::op_le) => CmpOp::Le,
                    Some(Rule::op_gt) => CmpOp::Gt,
                    Some(Rule::op_ge) => CmpOp::Ge,
                    _ => CmpOp::Eq,
                };
                let value = self.port_value(op, value)?;
                CondKind::Port { var, op, value }
            }
            Rule::if_cond => {
                let [var, op, value] = three(parts).ok_or_else(|| self.internal(span))?;
                let var = match first_rule(&var) {
                    Some(Rule::kw_iif) => IfVar::Iif,
                    Some(Rule::kw_oif) => IfVar::Oif,
                    _ => IfVar::If,
                };
                let value_span = span_of(&value);
                let inner = value
                    .into_inner()
                    .next()
                    .ok_or_else(|| self.internal(span))?;
                let value = match inner.as_rule() {
                    Rule::quoted => IfValue::Name(quoted_text(inner)),
                    Rule::vpn_named => {
                        let q = inner
                            .into_inner()
                            .find(|p| p.as_rule() == Rule::quoted)
                            .ok_or_else(|| self.internal(span))?;
                        IfValue::VpnNamed(quoted_text(q))
                    }
                    Rule::kw_vpnclient => IfValue::VpnClient,
                    _ => IfValue::Vpn,
                };
                CondKind::Iface {
                    var,
                    op: eq_op(&op),
                    value,
                    value_span,
                }
            }
            Rule::direc_cond => {
                let v = parts.last().and_then(first_rule);
                CondKind::Direc(if v == Some(Rule::kw_out) {
                    DirecValue::Out
                } else {
                    DirecValue::In
                })
            }
            Rule::tcpfl_cond => self.tcp_flags(parts)?,
            _ => return Err(self.internal(span)),
        };
        Ok(Condition { kind, span })
    }

    fn internal(&self, span: Span) -> ExprError {
        self.err(
            span.start,
            K::Syntax,
            "internal parser error: unexpected tree shape".into(),
        )
    }

    fn tcp_flags(&self, parts: Vec<Pair<'_, Rule>>) -> Result<CondKind, ExprError> {
        let (mut set, mut clear) = (0u8, 0u8);
        let mut terms = Vec::new();
        for term in parts.into_iter().filter(|p| p.as_rule() == Rule::flag_term) {
            let span = span_of(&term);
            let mut sign = FlagSign::Bare;
            let mut flag = None;
            for p in term.into_inner() {
                match p.as_rule() {
                    Rule::flag_sign => {
                        sign = if first_rule(&p) == Some(Rule::minus) {
                            FlagSign::Clear
                        } else {
                            FlagSign::Set
                        }
                    }
                    Rule::flag_name => flag = flag_from_name(p.as_str()),
                    _ => {}
                }
            }
            let flag = flag.ok_or_else(|| self.internal(span))?;
            if flag == TcpFlag::None && sign != FlagSign::Bare {
                return Err(self.err(
                    span.start,
                    K::BadFlags,
                    "`NONE` takes no `+` or `-` sign".into(),
                ));
            }
            let t = FlagTerm { sign, flag, span };
            let (s, c) = t.requirement();
            let conflict = (s & clear) | (c & set);
            if conflict != 0 {
                return Err(self.err(
                    span.start,
                    K::BadFlags,
                    format!("`tcpfl` wants {} both set and clear", flag_names(conflict)),
                ));
            }
            set |= s;
            clear |= c;
            terms.push(t);
        }
        Ok(CondKind::TcpFlags(terms))
    }

    fn port_number(&self, p: &Pair<'_, Rule>) -> Result<u16, ExprError> {
        p.as_str().parse::<u16>().map_err(|_| {
            self.err(
                p.as_span().start(),
                K::BadPort,
                format!("port `{}` is out of range (0-65535)", p.as_str()),
            )
        })
    }

    fn port_value(&self, op: CmpOp, pair: Pair<'_, Rule>) -> Result<PortValue, ExprError> {
        let start = pair.as_span().start();
        let text = pair.as_str().to_string();
        let nums: Vec<Pair<'_, Rule>> = pair
            .into_inner()
            .filter(|p| p.as_rule() == Rule::number)
            .collect();
        match nums.as_slice() {
            [a] => Ok(PortValue::Single(self.port_number(a)?)),
            [a, b] => {
                let (a, b) = (self.port_number(a)?, self.port_number(b)?);
                if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                    return Err(self.err(
                        start,
                        K::BadPort,
                        format!("a port range goes only with `=` or `!=`, not `{op}`"),
                    ));
                }
                if a > b {
                    return Err(self.err(
                        start,
                        K::ReversedRange,
                        format!(
                            "reversed port range `{text}`: the first port is greater than the last"
                        ),
                    ));
                }
                Ok(PortValue::Range(a, b))
            }
            _ => Err(self.err(start, K::Syntax, "internal parser error: bad port".into())),
        }
    }

    fn addr_value(&mut self, pair: Pair<'_, Rule>) -> Result<AddrValue, ExprError> {
        let start = pair.as_span().start();
        let inner = pair
            .into_inner()
            .next()
            .ok_or_else(|| self.internal(Span::new(start, start)))?;
        let rule = inner.as_rule();
        let text = inner.as_str().to_string();
        let parts: Vec<Pair<'_, Rule>> = inner.into_inner().collect();
        match rule {
            Rule::list_value => {
                let q = parts
                    .into_iter()
                    .find(|p| p.as_rule() == Rule::quoted)
                    .ok_or_else(|| self.internal(Span::new(start, start)))?;
                let span = inner_span(&q);
                Ok(AddrValue::List {
                    name: quoted_text(q),
                    span,
                })
            }
            Rule::user_value => {
                let q = parts
                    .into_iter()
                    .find(|p| p.as_rule() == Rule::quoted)
                    .ok_or_else(|| self.internal(Span::new(start, start)))?;
                let span = inner_span(&q);
                self.user_list(&quoted_text(q), span.start)
            }
            Rule::addr_single => {
                let tok = parts
                    .first()
                    .ok_or_else(|| self.internal(Span::new(start, start)))?;
                Ok(match self.ip(tok)? {
                    IpAddr::V4(a) => AddrValue::V4Host(a),
                    IpAddr::V6(a) => AddrValue::V6Host(a),
                })
            }
            Rule::addr_range => {
                let toks: Vec<&Pair<'_, Rule>> = parts
                    .iter()
                    .filter(|p| p.as_rule() == Rule::addr_token)
                    .collect();
                let [a, b] = toks.as_slice() else {
                    return Err(self.internal(Span::new(start, start)));
                };
                let (first, last) = (self.ip(a)?, self.ip(b)?);
                let reversed = || {
                    self.err(
                        start,
                        K::ReversedRange,
                        format!("reversed address range `{text}`: the first address is greater than the last"),
                    )
                };
                match (first, last) {
                    (IpAddr::V4(first), IpAddr::V4(last)) => {
                        if first > last {
                            return Err(reversed());
                        }
                        Ok(AddrValue::V4Range { first, last })
                    }
                    (IpAddr::V6(first), IpAddr::V6(last)) => {
                        if first > last {
                            return Err(reversed());
                        }
                        Ok(AddrValue::V6Range { first, last })
                    }
                    _ => Err(self.err(
                        start,
                        K::MixedFamilies,
                        format!("address range `{text}` mixes IPv4 and IPv6"),
                    )),
                }
            }
            Rule::addr_prefix => {
                let toks: Vec<&Pair<'_, Rule>> = parts
                    .iter()
                    .filter(|p| p.as_rule() == Rule::addr_token)
                    .collect();
                let [a, m] = toks.as_slice() else {
                    return Err(self.internal(Span::new(start, start)));
                };
                let addr = self.ip(a)?;
                let mtext = m.as_str();
                let mpos = m.as_span().start();
                let is_len = mtext.bytes().all(|b| b.is_ascii_digit());
                match addr {
                    IpAddr::V4(addr) if is_len => match mtext.parse::<u8>() {
                        Ok(len) if len <= 32 => Ok(AddrValue::V4Prefix { addr, len }),
                        _ => Err(self.err(
                            mpos,
                            K::BadAddress,
                            format!("IPv4 prefix length `{mtext}` is out of range (0-32)"),
                        )),
                    },
                    IpAddr::V4(addr) => {
                        let mask: Ipv4Addr = mtext.parse().map_err(|_| {
                            self.err(
                                mpos,
                                K::BadAddress,
                                format!("invalid subnet mask `{mtext}`"),
                            )
                        })?;
                        let bits = u32::from(mask);
                        if bits.leading_ones() + bits.trailing_zeros() != 32 {
                            return Err(self.err(
                                mpos,
                                K::BadAddress,
                                format!("subnet mask `{mtext}` is not contiguous (its one bits must come first)"),
                            ));
                        }
                        Ok(AddrValue::V4Mask { addr, mask })
                    }
                    IpAddr::V6(addr) if is_len => match mtext.parse::<u8>() {
                        Ok(len) if len <= 128 => Ok(AddrValue::V6Prefix { addr, len }),
                        _ => Err(self.err(
                            mpos,
                            K::BadAddress,
                            format!("IPv6 prefix length `{mtext}` is out of range (0-128)"),
                        )),
                    },
                    IpAddr::V6(_) => Err(self.err(
                        mpos,
                        K::BadAddress,
                        format!("an IPv6 subnet takes a prefix length, not `{mtext}`"),
                    )),
                }
            }
            _ => Err(self.internal(Span::new(start, start))),
        }
    }

    fn ip(&self, tok: &Pair<'_, Rule>) -> Result<IpAddr, ExprError> {
        let text = tok.as_str();
        let pos = tok.as_span().start();
        if text.contains(':') {
            text.parse::<Ipv6Addr>()
                .map(IpAddr::V6)
                .map_err(|_| self.err(pos, K::BadAddress, format!("invalid IPv6 address `{text}`")))
        } else {
            text.parse::<Ipv4Addr>()
                .map(IpAddr::V4)
                .map_err(|_| self.err(pos, K::BadAddress, format!("invalid IPv4 address `{text}`")))
        }
    }

    fn user_list(&self, text: &str, base: usize) -> Result<AddrValue, ExprError> {
        let mut items = Vec::new();
        let mut offset = 0usize;
        for piece in text.split(',') {
            let lead = piece.len() - piece.trim_start().len();
            let name = piece.trim();
            let at = base + offset + lead;
            let span = Span::new(at, at + name.len());
            offset += piece.len() + 1;
            if name.is_empty() {
                return Err(self.err(at, K::BadUserList, "empty name in user list".into()));
            }
            let (name, is_group) = match name.strip_prefix('[') {
                Some(rest) => match rest.strip_suffix(']') {
                    Some(g) => (g.trim(), true),
                    None => {
                        return Err(self.err(
                            at,
                            K::BadUserList,
                            format!("user group `{name}` lacks its closing `]`"),
                        ))
                    }
                },
                None => (name, false),
            };
            if name.is_empty() || name.contains(['[', ']']) {
                return Err(self.err(
                    at,
                    K::BadUserList,
                    format!("bad name `{}` in user list", piece.trim()),
                ));
            }
            items.push(UserRef {
                name: name.to_string(),
                is_group,
                span,
            });
        }
        Ok(AddrValue::Users(items))
    }
}

fn three<T>(v: Vec<T>) -> Option<[T; 3]> {
    v.try_into().ok()
}

fn first_rule(p: &Pair<'_, Rule>) -> Option<Rule> {
    p.clone().into_inner().next().map(|p| p.as_rule())
}

fn eq_op(p: &Pair<'_, Rule>) -> EqOp {
    if first_rule(p) == Some(Rule::op_ne) {
        EqOp::Ne
    } else {
        EqOp::Eq
    }
}

fn quoted_text(p: Pair<'_, Rule>) -> String {
    let s = p.as_str();
    s.get(1..s.len().saturating_sub(1))
        .unwrap_or("")
        .to_string()
}

fn inner_span(p: &Pair<'_, Rule>) -> Span {
    let s = p.as_span();
    Span::new(s.start() + 1, s.end().saturating_sub(1).max(s.start() + 1))
}

fn flag_from_name(s: &str) -> Option<TcpFlag> {
    Some(match s.to_ascii_uppercase().as_str() {
        "FIN" => TcpFlag::Fin,
        "SYN" => TcpFlag::Syn,
        "RST" => TcpFlag::Rst,
        "PSH" => TcpFlag::Psh,
        "ACK" => TcpFlag::Ack,
        "URG" => TcpFlag::Urg,
        "NONE" => TcpFlag::None,
        "ALL" => TcpFlag::All,
        _ => return None,
    })
}

/// `SYN`, `SYN and ACK`, … for the bits in `bits`.
pub(crate) fn flag_names(bits: u8) -> String {
    let names: Vec<&str> = [
        TcpFlag::Fin,
        TcpFlag::Syn,
        TcpFlag::Rst,
        TcpFlag::Psh,
        TcpFlag::Ack,
        TcpFlag::Urg,
    ]
    .iter()
    .filter(|f| bits & f.bits() != 0)
    .map(|f| f.name())
    .collect();
    names.join(" and ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Source → normalized form.
    const OK: &[(&str, &str)] = &[
        // The seed's examples.
        (
            r#"if = "Internet" & (port >= 137 & port <= 139 | port = 445)"#,
            r#"((if = "Internet") & (((port >= 137) & (port <= 139)) | (port = 445)))"#,
        ),
        (
            r#"oif = "Internet" & daddr = 192.168.1.10 & (dport = 80 | dport = 8080)"#,
            r#"(((oif = "Internet") & (daddr = 192.168.1.10)) & ((dport = 80) | (dport = 8080)))"#,
        ),
        ("direc = in & tcpfl = SYN", "((direc = in) & (tcpfl = SYN))"),
        ("tcpfl = SYN +ACK -RST", "(tcpfl = SYN +ACK -RST)"),
        ("any", "(any)"),
        // Every value form of the seed's address table.
        ("addr = 192.168.1.10", "(addr = 192.168.1.10)"),
        (
            "saddr = 192.168.1.0/255.255.255.0",
            "(saddr = 192.168.1.0/255.255.255.0)",
        ),
        ("daddr = 192.168.1.0/24", "(daddr = 192.168.1.0/24)"),
        (
            "addr = 192.168.1.10-192.168.1.20",
            "(addr = 192.168.1.10-192.168.1.20)",
        ),
        ("addr = 2001:abcd:1234::1", "(addr = 2001:abcd:1234::1)"),
        (
            r#"addr = list:"name of IP group""#,
            r#"(addr = list:"name of IP group")"#,
        ),
        (
            r#"addr = user:"user1,user2,[group1],user3,[group2]""#,
            r#"(addr = user:"user1,user2,[group1],user3,[group2]")"#,
        ),
        (r#"addr = user:" a , [ g ] ""#, r#"(addr = user:"a,[g]")"#),
        // Extensions: IPv6 prefixes and ranges, `!=` on addresses.
        ("daddr = 2001:DB8::/32", "(daddr = 2001:db8::/32)"),
        ("saddr = fe80::1-fe80::ff", "(saddr = fe80::1-fe80::ff)"),
        ("saddr != 10.0.0.0/8", "(saddr != 10.0.0.0/8)"),
        ("addr = ::ffff:1.2.3.4", "(addr = ::ffff:1.2.3.4)"),
        // Ports.
        ("port = 137-139", "(port = 137-139)"),
        ("sport != 1 - 1023", "(sport != 1-1023)"),
        (
            "dport<1024|dport>=49152",
            "((dport < 1024) | (dport >= 49152))",
        ),
        (
            "sport <= 0 & sport > 65535",
            "((sport <= 0) & (sport > 65535))",
        ),
        // Interfaces.
        ("iif != \"LAN\"", "(iif != \"LAN\")"),
        (
            "if = vpnclient | oif = vpn | if = vpn : \"Branch\"",
            "(((if = vpnclient) | (oif = vpn)) | (if = vpn:\"Branch\"))",
        ),
        ("DIREC = OUT", "(direc = out)"),
        ("tcpfl = none", "(tcpfl = NONE)"),
        ("tcpfl = ALL", "(tcpfl = ALL)"),
        ("tcpfl = -all", "(tcpfl = -ALL)"),
        ("tcpfl = + syn fin", "(tcpfl = +SYN FIN)"),
        // White space is free; keywords are case-insensitive.
        (
            "dport=80&saddr=10.0.0.0/8",
            "((dport = 80) & (saddr = 10.0.0.0/8))",
        ),
        ("ANY", "(any)"),
        (
            "(\n  port = 1\n| port = 2\n)\n& (any)",
            "(((port = 1) | (port = 2)) & (any))",
        ),
        // Precedence and associativity.
        ("any | any & any", "((any) | ((any) & (any)))"),
        (
            "port=1 | port=2 | port=3",
            "(((port = 1) | (port = 2)) | (port = 3))",
        ),
        (
            "port=1 & port=2 & port=3",
            "(((port = 1) & (port = 2)) & (port = 3))",
        ),
        ("((((any))))", "(any)"),
    ];

    #[test]
    fn parses_and_normalizes() {
        for (src, normalized) in OK {
            let e = parse(src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
            assert_eq!(e.to_string(), *normalized, "{src:?}");
            let again = parse(normalized).unwrap_or_else(|e| panic!("{normalized:?}: {e}"));
            assert_eq!(again, e, "{src:?}");
        }
    }

    /// Source → the exact error display.
    const ERR: &[(&str, &str)] = &[
        (
            r#"if = "Internet" x"#,
            "Line 1, char 17: unexpected `x`, expected one of: `|`, `&`, end of expression\n\
             if = \"Internet\" x\n                ^",
        ),
        (
            "",
            "Line 1, char 1: empty expression; expected a condition such as `any` or `dport = 80`\n\n^",
        ),
        (
            "  \n ",
            "Line 2, char 2: empty expression; expected a condition such as `any` or `dport = 80`\n \n ^",
        ),
        (
            "dport = ",
            "Line 1, char 9: unexpected end of expression, expected port number\ndport = \n        ^",
        ),
        (
            "(port = 80",
            "Line 1, char 11: unexpected end of expression, expected one of: `|`, `&`, `)`, `-`\n(port = 80\n          ^",
        ),
        (
            "direc = sideways",
            "Line 1, char 9: unexpected `sideways`, expected one of: `in`, `out`\ndirec = sideways\n        ^",
        ),
        (
            "port = 80 &\n  & port = 81",
            "Line 2, char 3: unexpected `&`, expected one of: `addr`, `saddr`, `daddr`, `port`, `sport`, `dport`, `if`, `iif`, `oif`, `(`, `any`, `direc`, `tcpfl`\n  & port = 81\n  ^",
        ),
        (
            "saddr < 10.0.0.1",
            "Line 1, char 7: unexpected `<`, expected one of: `=`, `!=`\nsaddr < 10.0.0.1\n      ^",
        ),
        (
            "anyway",
            "Line 1, char 1: unexpected `anyway`, expected one of: `(`, `any`, `addr`, `saddr`, `daddr`, `port`, `sport`, `dport`, `if`, `iif`, `oif`, `direc`, `tcpfl`\nanyway\n^",
        ),
        (
            "if = vpn:Branch",
            "Line 1, char 10: unexpected `Branch`, expected quoted name\nif = vpn:Branch\n         ^",
        ),
        (
            "daddr = ",
            "Line 1, char 9: unexpected end of expression, expected one of: IP address, `list:\"…\"`, `user:\"…\"`\ndaddr = \n        ^",
        ),
        // Semantic errors found while building the tree.
        (
            "addr = 300.1.1.1",
            "Line 1, char 8: invalid IPv4 address `300.1.1.1`\naddr = 300.1.1.1\n       ^",
        ),
        (
            "addr = 2001::db8::1",
            "Line 1, char 8: invalid IPv6 address `2001::db8::1`\naddr = 2001::db8::1\n       ^",
        ),
        (
            "daddr = 10.0.0.0/255.0.255.0",
            "Line 1, char 18: subnet mask `255.0.255.0` is not contiguous (its one bits must come first)\ndaddr = 10.0.0.0/255.0.255.0\n                 ^",
        ),
        (
            "daddr = 10.0.0.0/33",
            "Line 1, char 18: IPv4 prefix length `33` is out of range (0-32)\ndaddr = 10.0.0.0/33\n                 ^",
        ),
        (
            "daddr = ::/129",
            "Line 1, char 12: IPv6 prefix length `129` is out of range (0-128)\ndaddr = ::/129\n           ^",
        ),
        (
            "daddr = 10.0.0.9-10.0.0.1",
            "Line 1, char 9: reversed address range `10.0.0.9-10.0.0.1`: the first address is greater than the last\ndaddr = 10.0.0.9-10.0.0.1\n        ^",
        ),
        (
            "daddr = 10.0.0.1-::1",
            "Line 1, char 9: address range `10.0.0.1-::1` mixes IPv4 and IPv6\ndaddr = 10.0.0.1-::1\n        ^",
        ),
        (
            "port = 80 | dport = 65536",
            "Line 1, char 21: port `65536` is out of range (0-65535)\nport = 80 | dport = 65536\n                    ^",
        ),
        (
            "port = 139-137",
            "Line 1, char 8: reversed port range `139-137`: the first port is greater than the last\nport = 139-137\n       ^",
        ),
        (
            "port >= 1-2",
            "Line 1, char 9: a port range goes only with `=` or `!=`, not `>=`\nport >= 1-2\n        ^",
        ),
        (
            "tcpfl = SYN -syn",
            "Line 1, char 13: `tcpfl` wants SYN both set and clear\ntcpfl = SYN -syn\n            ^",
        ),
        (
            "tcpfl = ALL -URG",
            "Line 1, char 13: `tcpfl` wants URG both set and clear\ntcpfl = ALL -URG\n            ^",
        ),
        (
            "tcpfl = -NONE",
            "Line 1, char 9: `NONE` takes no `+` or `-` sign\ntcpfl = -NONE\n        ^",
        ),
        (
            "addr = user:\"a,,b\"",
            "Line 1, char 16: empty name in user list\naddr = user:\"a,,b\"\n               ^",
        ),
        (
            "addr = user:\"a,[g\"",
            "Line 1, char 16: user group `[g` lacks its closing `]`\naddr = user:\"a,[g\"\n               ^",
        ),
    ];

    #[test]
    fn reports_errors_kernun_style() {
        for (src, want) in ERR {
            let e = parse(src).expect_err(src);
            assert_eq!(e.to_string(), *want, "{src:?}");
        }
    }

    #[test]
    fn error_kinds_and_expected_tokens() {
        let cases: &[(&str, K, &[&str])] = &[
            ("", K::Empty, START_TOKENS),
            (
                "port = 1 x",
                K::Syntax,
                &["`|`", "`&`", "`-`", "end of expression"],
            ),
            ("addr = 1.2.3", K::BadAddress, &[]),
            ("port = 99999999999999999999", K::BadPort, &[]),
            ("port = 2-1", K::ReversedRange, &[]),
            ("addr = ::1-1.2.3.4", K::MixedFamilies, &[]),
            ("tcpfl = NONE SYN", K::BadFlags, &[]),
            ("addr = user:\"[]\"", K::BadUserList, &[]),
        ];
        for (src, kind, expected) in cases {
            let e = parse(src).expect_err(src);
            assert_eq!(e.kind, *kind, "{src:?}: {e}");
            assert_eq!(e.expected, *expected, "{src:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}any{}", "(".repeat(65), ")".repeat(65));
        assert_eq!(parse(&deep).expect_err("deep").kind, K::TooComplex);
        let ok = format!("{}any{}", "(".repeat(64), ")".repeat(64));
        assert!(parse(&ok).is_ok());
        let long = vec!["any"; MAX_CONDITIONS + 1].join("|");
        assert_eq!(parse(&long).expect_err("long").kind, K::TooComplex);
        // Parentheses inside quoted names don't count.
        let quoted = format!("iif = \"{}\"", "(".repeat(100));
        assert!(parse(&quoted).is_ok());
    }

    #[test]
    fn spans_point_into_the_source() {
        let src = "dport = 80 &\n saddr = user:\"bob, [ops]\"";
        let e = parse(src).expect("parses");
        let Expr::And { lhs, rhs, span } = &e else {
            panic!("not an And: {e:?}")
        };
        assert_eq!((span.start, span.end), (0, src.len()));
        assert_eq!((lhs.span().start, lhs.span().end), (0, 10));
        let Expr::Cond(Condition {
            kind:
                CondKind::Addr {
                    value: AddrValue::Users(users),
                    value_span,
                    ..
                },
            span,
        }) = rhs.as_ref()
        else {
            panic!("not a user condition: {rhs:?}")
        };
        assert_eq!(&src[span.start..span.end], "saddr = user:\"bob, [ops]\"");
        assert_eq!(
            &src[value_span.start..value_span.end],
            "user:\"bob, [ops]\""
        );
        let got: Vec<(&str, bool, &str)> = users
            .iter()
            .map(|u| (u.name.as_str(), u.is_group, &src[u.span.start..u.span.end]))
            .collect();
        assert_eq!(got, vec![("bob", false, "bob"), ("ops", true, "[ops]")]);
    }

    #[test]
    fn addr_values_parse_on_their_own() {
        let cases: &[(&str, Result<&str, usize>)] = &[
            ("10.0.0.0/8", Ok("10.0.0.0/8")),
            (" list:\"x\" ", Ok("list:\"x\"")),
            ("fe80::/10", Ok("fe80::/10")),
            ("10.0.0.1 &", Err(10)),
            ("1.2.3.4/1.2.3.4", Err(9)),
        ];
        for (src, want) in cases {
            let got = parse_addr_value(src)
                .map(|v| v.to_string())
                .map_err(|e| e.char);
            assert_eq!(got, want.map(str::to_string), "{src:?}");
        }
    }
}
