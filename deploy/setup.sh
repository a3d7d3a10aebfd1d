#!/usr/bin/env bash
# Installs what ferrocap needs on Debian 12, skipping what is already there.
#
#   bash deploy/setup.sh            # runtime + build packages
#   bash deploy/setup.sh --test     # also the tools the tests and benchmarks drive
#                                   # (tshark, tcpdump, promtool, dpdk-testpmd)
#
# Safe to run again: apt-get runs only when a package is missing.
set -euo pipefail

want=(build-essential pkgconf libclang-dev dpdk libdpdk-dev libpcap-dev)
if [[ "${1:-}" == "--test" ]]; then
  want+=(tshark tcpdump prometheus dpdk-dev)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all packages present (${want[*]})" >&2
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found. Install Rust with https://rustup.rs (stable, 1.80 or newer)." >&2
  exit 1
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt >/dev/null 2>&1 || true
