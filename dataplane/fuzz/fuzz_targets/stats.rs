//! Fuzz target: arbitrary bytes as a stats log → `stats::analyze_with`,
//! the reader behind `ferrocap stats`: it must never panic, and reading
//! the file in small chunks on several threads must give the report of
//! reading it whole (see `ferrocap_dataplane::fuzz_checks`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    ferrocap_dataplane::fuzz_checks::stats_chunks_agree(input);
});
