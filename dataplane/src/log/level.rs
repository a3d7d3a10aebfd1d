//! Severities and the logging level.
//!
//! A [`Severity`] is the one-letter code at the end of every message id
//! (`PFLG-888-I`); a [`Level`] is the operator's threshold (3..=9). The
//! promises: [`Level`] never leaves 3..=9, K messages always pass, and
//! statistical (I) messages always reach the stats stream whatever the level.
#![forbid(unsafe_code)]

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// The severity code of a message, with Kernun's numeric values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// `X` (0, LOG_EMERG): the system is unusable.
    X,
    /// `A` (1, LOG_ALERT): a potential security problem was detected.
    A,
    /// `C` (2, LOG_CRIT): critical error, the application fails.
    C,
    /// `E` (3, LOG_ERR): error, the current operation fails.
    E,
    /// `W` (4, LOG_WARNING): a potential error.
    W,
    /// `N` (5, LOG_NOTICE): normal but noticeable condition.
    N,
    /// `K` (5, LOG_NOTICE): a non-maskable notice; always logged.
    K,
    /// `I` (6, LOG_INFO): a statistical record; always goes to the stats log.
    I,
    /// `D` (7, LOG_DEBUG): debugging.
    D,
    /// `T` (8, LOG_DEBUG): tracing.
    T,
    /// `F` (9, LOG_DEBUG): full log.
    F,
}

impl Severity {
    /// Every severity, in table order (the index used by per-severity counters).
    pub const ALL: [Severity; 11] = [
        Severity::X,
        Severity::A,
        Severity::C,
        Severity::E,
        Severity::W,
        Severity::N,
        Severity::K,
        Severity::I,
        Severity::D,
        Severity::T,
        Severity::F,
    ];

    /// Kernun's numeric value: X=0 A=1 C=2 E=3 W=4 N=5 K=5 I=6 D=7 T=8 F=9.
    pub const fn value(self) -> u8 {
        match self {
            Severity::X => 0,
            Severity::A => 1,
            Severity::C => 2,
            Severity::E => 3,
            Severity::W => 4,
            Severity::N | Severity::K => 5,
            Severity::I => 6,
            Severity::D => 7,
            Severity::T => 8,
            Severity::F => 9,
        }
    }

    /// The syslog severity (the low three bits of `<PRI>`): the numeric
    /// value capped at 7 (LOG_DEBUG).
    pub const fn syslog(self) -> u8 {
        let v = self.value();
        if v > 7 {
            7
        } else {
            v
        }
    }

    /// The one-letter code.
    pub const fn letter(self) -> char {
        match self {
            Severity::X => 'X',
            Severity::A => 'A',
            Severity::C => 'C',
            Severity::E => 'E',
            Severity::W => 'W',
            Severity::N => 'N',
            Severity::K => 'K',
            Severity::I => 'I',
            Severity::D => 'D',
            Severity::T => 'T',
            Severity::F => 'F',
        }
    }

    /// The severity for a letter (upper case only).
    pub fn from_letter(c: char) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.letter() == c)
    }

    /// Position in [`Severity::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Whether a message of this severity passes `level` on the main
    /// (syslog/file) output. K always passes; I always passes because it is
    /// routed to the stats stream regardless of the level.
    pub fn passes(self, level: Level) -> bool {
        matches!(self, Severity::K | Severity::I) || self.value() <= level.get()
    }

    /// Whether this is a debugging severity (D, T, F): such messages need
    /// no catalog entry.
    pub const fn is_debug(self) -> bool {
        matches!(self, Severity::D | Severity::T | Severity::F)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.letter())
    }
}

/// A logging level: messages whose severity value is at most the level are
/// logged. Always within 3..=9; the default is 5 (`normal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Level(u8);

/// The level string or number is not one of 3..=9 or the mnemonics.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid log level {0:?}: expected a number 3..9 or one of error, warning, normal, debug, trace, full")]
pub struct LevelError(pub String);

impl Level {
    /// The lowest level, 3 (`error`).
    pub const MIN: Level = Level(3);
    /// The highest level, 9 (`full`).
    pub const MAX: Level = Level(9);
    /// `error` (3).
    pub const ERROR: Level = Level(3);
    /// `warning` (4).
    pub const WARNING: Level = Level(4);
    /// `normal` (5), the default.
    pub const NORMAL: Level = Level(5);
    /// Level 6 (informational); numeric only, it has no mnemonic.
    pub const INFO: Level = Level(6);
    /// `debug` (7).
    pub const DEBUG: Level = Level(7);
    /// `trace` (8).
    pub const TRACE: Level = Level(8);
    /// `full` (9).
    pub const FULL: Level = Level(9);

    /// The level `n`, or `None` outside 3..=9.
    pub const fn new(n: u8) -> Option<Level> {
        if n >= 3 && n <= 9 {
            Some(Level(n))
        } else {
            None
        }
    }

    /// The level `n` clamped into 3..=9.
    pub const fn clamped(n: u8) -> Level {
        if n < 3 {
            Level(3)
        } else if n > 9 {
            Level(9)
        } else {
            Level(n)
        }
    }

    /// The numeric value.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// One step up (more verbose), clamped at 9 (SIGUSR1).
    pub const fn step_up(self) -> Level {
        Level::clamped(self.0.saturating_add(1))
    }

    /// One step down (less verbose), clamped at 3 (SIGUSR2).
    pub const fn step_down(self) -> Level {
        Level::clamped(self.0.saturating_sub(1))
    }

    /// The mnemonic, if the level has one (6 has none).
    pub const fn mnemonic(self) -> Option<&'static str> {
        match self.0 {
            3 => Some("error"),
            4 => Some("warning"),
            5 => Some("normal"),
            7 => Some("debug"),
            8 => Some("trace"),
            9 => Some("full"),
            _ => None,
        }
    }
}

impl Default for Level {
    fn default() -> Self {
        Level::NORMAL
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Level {
    type Err = LevelError;

    /// Accepts a number 3..=9 or a mnemonic (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if let Ok(n) = t.parse::<u8>() {
            return Level::new(n).ok_or_else(|| LevelError(s.to_string()));
        }
        let n = match t.to_ascii_lowercase().as_str() {
            "error" => 3,
            "warning" => 4,
            "normal" => 5,
            "debug" => 7,
            "trace" => 8,
            "full" => 9,
            _ => return Err(LevelError(s.to_string())),
        };
        Ok(Level(n))
    }
}

impl<'de> serde::Deserialize<'de> for Level {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Level;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a log level 3..9 or error/warning/normal/debug/trace/full")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Level, E> {
                u8::try_from(v)
                    .ok()
                    .and_then(Level::new)
                    .ok_or_else(|| E::custom(LevelError(v.to_string())))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Level, E> {
                u8::try_from(v)
                    .ok()
                    .and_then(Level::new)
                    .ok_or_else(|| E::custom(LevelError(v.to_string())))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Level, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_table() {
        let table = [
            (Severity::X, 'X', 0, 0),
            (Severity::A, 'A', 1, 1),
            (Severity::C, 'C', 2, 2),
            (Severity::E, 'E', 3, 3),
            (Severity::W, 'W', 4, 4),
            (Severity::N, 'N', 5, 5),
            (Severity::K, 'K', 5, 5),
            (Severity::I, 'I', 6, 6),
            (Severity::D, 'D', 7, 7),
            (Severity::T, 'T', 8, 7),
            (Severity::F, 'F', 9, 7),
        ];
        for (i, (s, letter, value, syslog)) in table.into_iter().enumerate() {
            assert_eq!(s.letter(), letter);
            assert_eq!(s.value(), value);
            assert_eq!(s.syslog(), syslog);
            assert_eq!(s.index(), i);
            assert_eq!(Severity::from_letter(letter), Some(s));
        }
        assert_eq!(Severity::from_letter('Z'), None);
    }

    #[test]
    fn level_parse_table() {
        let ok = [
            ("3", 3),
            ("9", 9),
            ("6", 6),
            ("error", 3),
            ("warning", 4),
            ("normal", 5),
            ("debug", 7),
            ("trace", 8),
            ("FULL", 9),
            (" 5 ", 5),
        ];
        for (s, n) in ok {
            assert_eq!(s.parse::<Level>().map(Level::get), Ok(n), "{s}");
        }
        for bad in ["2", "10", "info", "", "verbose", "-1", "300"] {
            let e = bad.parse::<Level>().unwrap_err();
            assert!(e.to_string().contains("invalid log level"), "{e}");
        }
    }

    #[test]
    fn level_steps_clamp() {
        assert_eq!(Level::FULL.step_up(), Level::FULL);
        assert_eq!(Level::ERROR.step_down(), Level::ERROR);
        assert_eq!(Level::NORMAL.step_up().get(), 6);
        assert_eq!(Level::NORMAL.step_down().get(), 4);
        assert_eq!(Level::clamped(0).get(), 3);
        assert_eq!(Level::clamped(200).get(), 9);
        assert_eq!(Level::default().get(), 5);
        assert_eq!(Level::INFO.mnemonic(), None);
        assert_eq!(Level::TRACE.mnemonic(), Some("trace"));
    }

    #[test]
    fn filtering() {
        let l = Level::ERROR;
        assert!(Severity::K.passes(l));
        assert!(Severity::I.passes(l));
        assert!(Severity::E.passes(l));
        assert!(!Severity::W.passes(l));
        assert!(!Severity::N.passes(l));
        assert!(Severity::N.passes(Level::NORMAL));
        assert!(!Severity::D.passes(Level::INFO));
        assert!(Severity::F.passes(Level::FULL));
    }
}
