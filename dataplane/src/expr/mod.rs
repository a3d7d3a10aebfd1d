//! The Kerio packet-logging expression language.
//!
//! A staged pipeline, each stage with its own tests:
//! `grammar.pest` → `parser` (typed [`ast`], errors positioned Kernun-style)
//! → `resolve` (names looked up in a [`Directory`], conditions lowered to
//! packet tests) → `compile` (constant folding, a flat branch program: the
//! [`Matcher`]). [`reference`](mod@reference) is a naive interpreter the matcher is tested
//! against.
//!
//! ```
//! use ferrocap_dataplane::expr::{compile, Directory, InterfaceKind};
//! let dir = Directory::builder()
//!     .interface("Internet", InterfaceKind::Ethernet)
//!     .build()
//!     .unwrap();
//! let c = compile(r#"if = "Internet" & (port >= 137 & port <= 139 | port = 445)"#, &dir).unwrap();
//! assert_eq!(
//!     c.normalized,
//!     r#"((if = "Internet") & (((port >= 137) & (port <= 139)) | (port = 445)))"#
//! );
//! assert_eq!(c.warnings.len(), 1); // suggests `port = 137-139`
//! ```
#![forbid(unsafe_code)]

pub mod ast;
mod compile;
mod directory;
mod error;
mod intervals;
mod lint;
mod matcher;
mod parser;
pub mod reference;
mod resolve;

pub use compile::{compile, Compiled};
pub use directory::{
    Directory, DirectoryBuilder, DirectoryError, IfIndex, InterfaceDef, InterfaceKind, RouteDef,
};
pub use error::{ExprError, ExprErrorKind, Warning};
pub use matcher::{BatchMeta, Direction, Matcher, PacketMeta, BATCH_MAX, TABLE_MAX_TESTS};
pub use parser::{parse, MAX_CONDITIONS, MAX_PAREN_DEPTH};

#[cfg(test)]
mod tests;
