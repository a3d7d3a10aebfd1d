//! `ferrocap-bench`: ferrocap's traffic generator and benchmarks.
//!
//! - [`gen`]: a deterministic synthetic traffic generator (the
//!   `ferrocap-bench gen` subcommand writes its output as pcap/pcapng);
//! - [`cases`]: the matching benchmark's expressions and equivalent BPF.
#![warn(missing_docs, unreachable_pub)]

pub mod cases;
pub mod gen;
