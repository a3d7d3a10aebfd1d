#!/usr/bin/env bash
# Sets up a Debian machine and runs ferrocap on its embedded default:
# DPDK with a net_pcap virtual device replaying the bundled capture
# (deploy/demo.pcap) in a loop. No NIC and no hugepages are needed.
#
#   bash deploy/quickstart.sh                 # runs until Ctrl-C
#   bash deploy/quickstart.sh --duration 30   # or for 30 seconds
#
# Any arguments are passed to `ferrocap run`. Once the workers run, it prints
# where the dumps, the logs, the metrics and the web page are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh

echo "== building ferrocap (release)" >&2
cargo build --release --locked -p ferrocap
bin="${CARGO_TARGET_DIR:-target}/release/ferrocap"
config=deploy/demo.toml
mkdir -p run
# The debug log of an earlier run would say "started" at once.
rm -f run/ferrocap-debug

echo "== starting ferrocap on $config (Ctrl-C stops it cleanly)" >&2
# Its own session, so a Ctrl-C reaches only this script, which then sends
# exactly one SIGTERM (a second signal would make ferrocap stop at once,
# without closing the dumps).
setsid "$bin" run --config "$config" "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM

# Started = every worker logged DPDW-100 (or ferrocap already exited).
for _ in $(seq 1 300); do
  kill -0 "$pid" 2>/dev/null || break
  grep -q "DPDW-100-N worker" run/ferrocap-debug 2>/dev/null && break
  sleep 0.1
done

if kill -0 "$pid" 2>/dev/null; then
  cat >&2 <<MSG

== ferrocap is running (pid $pid)
$(bash deploy/where.sh "$config")
   Open the dumps with wireshark or tshark -r FILE.
   Statistics: $bin stats run/ferrocap-stats [--html report.html]
   The demo replays about a million packets a second, so the packet log grows
   by several MB a second; dumps rotate at 50 MB and keep 2-4 files.
   Ctrl-C (or kill -TERM $pid) stops it, closing every dump valid.

MSG
fi

status=0
# `wait` returns early when the trap runs; wait again for the real exit.
while :; do
  wait "$pid" && status=0 || status=$?
  kill -0 "$pid" 2>/dev/null || break
done
trap - INT TERM

echo >&2
echo "== what the demo wrote" >&2
ls -l run/ >&2 || true
if command -v capinfos >/dev/null 2>&1; then
  for f in run/*.pcap run/*.pcapng; do
    [[ -e "$f" ]] || continue
    n=$(capinfos -c -M "$f" 2>/dev/null | awk -F: '/Number of packets/ {gsub(/ /, "", $2); print $2}')
    echo "   $f: ${n:-?} packets" >&2
  done
fi
exit "$status"
