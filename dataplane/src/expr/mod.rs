//! The Kerio packet-logging expression language.
//!
//! A staged pipeline, each stage with its own tests:
//! `grammar.pest` → [`parser`] (typed [`ast`]) → [`resolve`] (names looked up
//! in a [`Directory`]) → [`compile`] (a flat [`Matcher`]).
//! [`reference`] is a naive interpreter the matcher is tested against.
#![forbid(unsafe_code)]

pub mod ast;
mod error;
mod parser;

pub use error::{ExprError, ExprErrorKind, Warning};
pub use parser::{parse, MAX_CONDITIONS, MAX_PAREN_DEPTH};
