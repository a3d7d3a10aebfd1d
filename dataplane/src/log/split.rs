//! Splitting long statistical records into lines, and joining them again.
//!
//! A record longer than `max_line` bytes is written as several parts. Every
//! part but the last ends with `\`; every part but the first starts with
//! `~`. `max_line` counts the bytes of a part including those markers (it
//! bounds the message text after `CODE-NNN-S `, not the envelope) and is
//! raised to [`MIN_LINE`] if smaller, so that every part carries at least
//! one character. Parts are cut on character boundaries.
//!
//! # The unambiguous rule
//! The reader strips exactly one trailing `\` from a continued part and
//! exactly one leading `~` from a continuation. A record's own characters
//! can only be confused with the markers at its two ends, so the writer
//! guarantees that
//! - the first part never starts with `~`: a record that starts with `~`
//!   is written after an empty first part (a line holding just `\`);
//! - the last part never ends with `\`: a record that ends with `\` is
//!   followed by an empty last part (a line holding just `~`).
//!
//! Everything else in a record, `\` and `~` included, is written as it is,
//! so ordinary records (the vast majority) are unchanged. Records are single
//! lines: a CR or LF inside a record is written as a space.
//!
//! The [`Joiner`] tolerates damage: a record whose last part never came (a
//! torn write, a crash) is delivered as [`JoinStatus::Torn`], and a `~` line
//! with nothing before it as [`JoinStatus::Orphan`].
#![forbid(unsafe_code)]

/// The smallest effective `max_line`: a 4-byte character plus both markers
/// always fits.
pub const MIN_LINE: usize = 8;

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Calls `emit` with each physical part of `record`, in order, using one
/// reused buffer.
pub fn for_each_part(record: &str, max_line: usize, mut emit: impl FnMut(&str)) {
    let max_line = max_line.max(MIN_LINE);
    let mut rest = record;
    let mut buf = String::with_capacity(max_line.min(record.len() + 2));
    let push_clean = |buf: &mut String, s: &str| {
        for c in s.chars() {
            buf.push(if c == '\n' || c == '\r' { ' ' } else { c });
        }
    };
    let mut first = true;
    if rest.starts_with('~') {
        emit("\\");
        first = false;
    }
    loop {
        let prefix = usize::from(!first);
        buf.clear();
        if !first {
            buf.push('~');
        }
        if rest.len() + prefix <= max_line && !rest.ends_with('\\') {
            push_clean(&mut buf, rest);
            emit(&buf);
            return;
        }
        let budget = max_line - prefix - 1;
        let mut cut = floor_char_boundary(rest, budget);
        if cut == 0 {
            // Cannot happen with max_line >= MIN_LINE; take one char anyway.
            cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        let (chunk, tail) = rest.split_at(cut);
        push_clean(&mut buf, chunk);
        buf.push('\\');
        emit(&buf);
        rest = tail;
        first = false;
    }
}

/// The parts of `record` as owned lines (see [`for_each_part`]).
pub fn split(record: &str, max_line: usize) -> Vec<String> {
    let mut v = Vec::new();
    for_each_part(record, max_line, |p| v.push(p.to_string()));
    v
}

/// How a joined record came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinStatus {
    /// All parts were present.
    Complete,
    /// The record's last part is missing (a torn write); what arrived is
    /// delivered.
    Torn,
    /// A continuation (`~`) line arrived with no record before it.
    Orphan,
}

/// Reassembles split records from a sequence of lines.
#[derive(Debug, Default)]
pub struct Joiner {
    pending: String,
    active: Option<JoinStatus>,
}

impl Joiner {
    /// An empty joiner.
    pub fn new() -> Joiner {
        Joiner::default()
    }

    /// Feeds one line (without its newline); `emit` receives every record
    /// that this line completes (at most two: a torn one and this one).
    pub fn push(&mut self, line: &str, mut emit: impl FnMut(&str, JoinStatus)) {
        if let Some(cont) = line.strip_prefix('~') {
            let status = match self.active {
                Some(s) => s,
                None => {
                    self.pending.clear();
                    JoinStatus::Orphan
                }
            };
            match cont.strip_suffix('\\') {
                Some(part) => {
                    self.pending.push_str(part);
                    self.active = Some(status);
                }
                None => {
                    self.pending.push_str(cont);
                    self.active = None;
                    emit(&self.pending, status);
                }
            }
            return;
        }
        if let Some(status) = self.active.take() {
            let status = if status == JoinStatus::Orphan {
                JoinStatus::Orphan
            } else {
                JoinStatus::Torn
            };
            emit(&self.pending, status);
        }
        match line.strip_suffix('\\') {
            Some(part) => {
                self.pending.clear();
                self.pending.push_str(part);
                self.active = Some(JoinStatus::Complete);
            }
            None => emit(line, JoinStatus::Complete),
        }
    }

    /// Ends the input: a record still waiting for parts is delivered as
    /// [`JoinStatus::Torn`] (or `Orphan`).
    pub fn finish(&mut self, mut emit: impl FnMut(&str, JoinStatus)) {
        if let Some(status) = self.active.take() {
            let status = if status == JoinStatus::Orphan {
                JoinStatus::Orphan
            } else {
                JoinStatus::Torn
            };
            emit(&self.pending, status);
        }
    }
}

/// Joins a whole sequence of lines (convenience for tests and small inputs).
pub fn join<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<(String, JoinStatus)> {
    let mut j = Joiner::new();
    let mut out = Vec::new();
    for l in lines {
        j.push(l, |r, s| out.push((r.to_string(), s)));
    }
    j.finish(|r, s| out.push((r.to_string(), s)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_table() {
        let cases: &[(&str, usize, &[&str])] = &[
            ("short", 1024, &["short"]),
            ("", 1024, &[""]),
            ("abcdefghij", 8, &["abcdefg\\", "~hij"]),
            ("abcdefghijklmnop", 8, &["abcdefg\\", "~hijklm\\", "~nop"]),
            ("ends\\", 1024, &["ends\\\\", "~"]),
            ("~tilde", 1024, &["\\", "~~tilde"]),
            ("a\nb", 1024, &["a b"]),
            ("abc", 1, &["abc"]),
        ];
        for (rec, max, want) in cases {
            let got = split(rec, *max);
            assert_eq!(
                got,
                want.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                "{rec:?}"
            );
            for p in &got {
                assert!(p.len() <= (*max).max(MIN_LINE), "{p:?}");
            }
        }
    }

    #[test]
    fn join_damage() {
        let j = join(["abc\\", "~def\\", "next", "~orphan", "tail\\"]);
        assert_eq!(
            j,
            vec![
                ("abcdef".to_string(), JoinStatus::Torn),
                ("next".to_string(), JoinStatus::Complete),
                ("orphan".to_string(), JoinStatus::Orphan),
                ("tail".to_string(), JoinStatus::Torn),
            ]
        );
    }

    #[test]
    fn multibyte_cut_on_boundary() {
        let rec = "ééééééééé€€€𝄞𝄞";
        let parts = split(rec, 9);
        for p in &parts {
            assert!(p.len() <= 9);
        }
        let j = join(parts.iter().map(String::as_str));
        assert_eq!(j, vec![(rec.to_string(), JoinStatus::Complete)]);
    }
}
