//! Expression errors and warnings, positioned the way Kernun reports
//! configuration errors.
//!
//! Promises: every error and warning carries a 1-based line and character
//! (counted in characters, not bytes) and renders as
//!
//! ```text
//! Line 1, char 17: <message>
//! <the source line>
//!                 ^
//! ```
//!
//! with the caret under the offending character (tabs are kept so the caret
//! lines up in a terminal).
#![forbid(unsafe_code)]

use std::fmt;

/// What went wrong, for callers that want to branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExprErrorKind {
    /// The text does not follow the grammar (see [`ExprError::expected`]).
    Syntax,
    /// The expression is empty or only white space.
    Empty,
    /// A malformed address, mask or prefix length.
    BadAddress,
    /// A port number above 65535, or a range with a comparison other than `=`/`!=`.
    BadPort,
    /// A range whose first value is greater than its last.
    ReversedRange,
    /// A range from an IPv4 to an IPv6 address or the other way round.
    MixedFamilies,
    /// A `tcpfl` list that wants a flag both set and clear, or a sign on `NONE`.
    BadFlags,
    /// A malformed `user:"…"` list.
    BadUserList,
    /// `list:"G"` names no IP group.
    UnknownIpGroup,
    /// `user:"u"` names no user.
    UnknownUser,
    /// `user:"[g]"` names no user group.
    UnknownUserGroup,
    /// The interface name is not in the directory.
    UnknownInterface,
    /// `vpn:"name"` names an interface that is missing or not a VPN.
    UnknownVpn,
    /// Parentheses nest too deeply or there are too many conditions.
    TooComplex,
}

/// A bad expression: where, what, and what would have been accepted there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ExprError {
    /// What went wrong.
    pub kind: ExprErrorKind,
    /// 1-based line number.
    pub line: usize,
    /// 1-based character (not byte) position in the line.
    pub char: usize,
    /// Byte offset in the whole source.
    pub offset: usize,
    /// The message, without the position. For syntax errors it includes
    /// `expected one of: …`.
    pub message: String,
    /// Readable names of the tokens that would have been accepted (syntax
    /// errors only).
    pub expected: Vec<String>,
    /// The source line the error is on, without its line break.
    pub source_line: String,
}

/// A suspicious but valid expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// 1-based line number.
    pub line: usize,
    /// 1-based character position in the line.
    pub char: usize,
    /// What looks wrong and what to write instead.
    pub message: String,
}

/// Line, character and the line's text for a byte offset in `src`. Offsets
/// past the end, or inside a multi-byte character, are clamped.
pub(crate) fn locate(src: &str, offset: usize) -> (usize, usize, String) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let ch = src[line_start..offset].chars().count() + 1;
    let rest = &src[line_start..];
    let line_text = rest.split('\n').next().unwrap_or("");
    let line_text = line_text.strip_suffix('\r').unwrap_or(line_text);
    (line, ch, line_text.to_string())
}

impl ExprError {
    /// An error of `kind` at byte `offset` of `src`.
    pub(crate) fn at(src: &str, offset: usize, kind: ExprErrorKind, message: String) -> ExprError {
        let (line, char, source_line) = locate(src, offset);
        ExprError {
            kind,
            line,
            char,
            offset,
            message,
            expected: Vec::new(),
            source_line,
        }
    }
}

impl Warning {
    pub(crate) fn at(src: &str, offset: usize, message: String) -> Warning {
        let (line, char, _) = locate(src, offset);
        Warning {
            line,
            char,
            message,
        }
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Line {}, char {}: {}",
            self.line, self.char, self.message
        )?;
        writeln!(f, "{}", self.source_line)?;
        let pad: String = self
            .source_line
            .chars()
            .take(self.char.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "{pad}^")
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Line {}, char {}: warning: {}",
            self.line, self.char, self.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_counts_lines_and_chars_not_bytes() {
        let cases: &[(&str, usize, (usize, usize, &str))] = &[
            ("any", 0, (1, 1, "any")),
            ("any", 3, (1, 4, "any")),
            ("a\nbc", 2, (2, 1, "bc")),
            ("a\r\nbc\r\n", 4, (2, 2, "bc")),
            ("\"é\" x", 5, (1, 5, "\"é\" x")),
            ("xyz", 99, (1, 4, "xyz")),
            ("é", 1, (1, 1, "é")),
        ];
        for (src, off, (l, c, text)) in cases {
            assert_eq!(
                locate(src, *off),
                (*l, *c, text.to_string()),
                "{src:?} @ {off}"
            );
        }
    }

    #[test]
    fn display_puts_caret_under_the_spot() {
        let e = ExprError::at("ab\n\tcd x", 7, ExprErrorKind::Syntax, "boom".into());
        assert_eq!(e.to_string(), "Line 2, char 5: boom\n\tcd x\n\t   ^");
    }
}
