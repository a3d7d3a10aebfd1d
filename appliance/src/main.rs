//! The `ferrocap` command line.
fn main() {}
