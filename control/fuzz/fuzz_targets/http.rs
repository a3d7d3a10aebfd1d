//! Fuzz target: arbitrary requests (method, path and query, body) → the
//! control plane's router. Every request gets an answer below 500, and
//! every 4xx answer is a JSON error (see `ferrocap_control::fuzz_checks`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    ferrocap_control::fuzz_checks::request_gets_a_clear_answer(input);
});
