//! ferrocap's packet path.
//!
//! The modules read from the wire up:
//! - [`wire`]: zero-copy, checked views over packet bytes and a one-pass
//!   decoder that never panics on any byte sequence;
//! - [`expr`]: the Kerio packet-logging expression language — a `pest`
//!   grammar, a typed AST, resolution against a [`expr::Directory`], and a
//!   compiled [`expr::Matcher`] that runs without allocating;
//! - [`pcap`]: reading pcap/pcapng captures and writing Wireshark-readable
//!   dumps.
//!
//! This crate knows nothing about HTTP or the command line.
#![warn(missing_docs, unreachable_pub)]

pub mod affinity;
pub mod expr;
#[doc(hidden)]
pub mod fuzz_checks;
pub mod hint;
pub mod log;
pub mod pcap;
pub mod runtime;
pub mod source;
pub mod stats;
pub mod wire;
