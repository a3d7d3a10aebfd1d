#!/usr/bin/env bash
# Sets up a Debian machine and runs ferrocap's whole test suite: formatting,
# clippy with warnings as errors, and every unit, property and end-to-end test
# (the end-to-end tests run the real binaries and read their output with tshark).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh --test

# A one-shot build gains nothing from incremental state, which is a third of
# target/ (~0.9 GB); say how much disk there is, since a full disk fails the
# linker with a bus error rather than a plain message.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
echo "== free disk for target/: $(df -h --output=avail . | tail -1 | tr -d ' ')" >&2

echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== cargo clippy (-D warnings)" >&2
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test" >&2
cargo test --workspace --locked
