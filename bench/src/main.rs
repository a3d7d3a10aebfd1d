//! `ferrocap-bench`: traffic generator and benchmarks.
fn main() {}
