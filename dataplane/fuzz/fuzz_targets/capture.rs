//! Fuzz target: arbitrary bytes → `pcap::CaptureReader`, the reader of
//! pcap and pcapng files: it must never panic, and reading the same bytes
//! in memory, as a trickling stream and in committed spans must give the
//! same records (see `ferrocap_dataplane::fuzz_checks`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    ferrocap_dataplane::fuzz_checks::capture_readers_agree(input);
});
