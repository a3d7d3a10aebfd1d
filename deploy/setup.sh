#!/usr/bin/env bash
# Installs what ferrocap needs on Debian 12, skipping what is already there.
#
#   bash deploy/setup.sh            # runtime + build packages
#   bash deploy/setup.sh --test     # also the tools the tests and benchmarks drive:
#                                   #   tshark, tcpdump       compare dumps
#                                   #   prometheus            promtool (config, rules, rule tests)
#                                   #   dpdk-dev              dpdk-testpmd (benchmark peer)
#                                   #   systemd               systemd-analyze verify (the unit)
#                                   #   logrotate             the logrotate config against a live process
#                                   #   man-db, groff-base    man -l (the man page renders)
#                                   #   chromium, chromium-driver, and playwright-core from npm
#                                   #                         (control/tests/web) drive the web page
#
# Safe to run again: dpkg-query checks every package first, and apt-get
# (update and install) runs only when one is missing. Needs root or sudo
# only then.
set -euo pipefail

want=(build-essential pkgconf libclang-dev dpdk libdpdk-dev libpcap-dev)
case "${1:-}" in
  "") ;;
  --test) want+=(tshark tcpdump prometheus dpdk-dev systemd logrotate man-db groff-base
                 chromium chromium-driver) ;;
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 0 ;;
  *) echo "setup: unknown option $1 (use --test or nothing)" >&2; exit 2 ;;
esac

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

if [[ "${1:-}" == --test ]]; then
  # The browser test's driver, pinned by control/tests/web/package-lock.json.
  web="$(cd "$(dirname "$0")/.." && pwd)/control/tests/web"
  if [[ ! -d "$web/node_modules/playwright-core" ]]; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "setup: npm not found; the web page test needs Node.js 20 or newer with npm" >&2
      exit 1
    fi
    echo "setup: npm ci in control/tests/web (playwright-core)" >&2
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi
