//! Fuzz target: arbitrary bytes as a config file → the appliance's config
//! loader (`appliance/src/config.rs`, included here because the appliance
//! is a binary crate). It must never panic, and every error must name a
//! place inside the text (see `config::fuzz_check`).
#![no_main]
#![allow(dead_code, unreachable_pub, missing_docs)]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/config.rs"]
mod config;

fuzz_target!(|input: &[u8]| {
    config::fuzz_check(input);
});
