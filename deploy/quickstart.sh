#!/usr/bin/env bash
# Sets up a Debian machine and runs ferrocap on its embedded default:
# DPDK with a net_pcap virtual device replaying the bundled capture
# (deploy/demo.pcap) in a loop. No NIC and no hugepages are needed.
#
#   bash deploy/quickstart.sh                 # runs until Ctrl-C
#   bash deploy/quickstart.sh --duration 30   # or for 30 seconds
#
# Any arguments are passed to `ferrocap run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh

echo "== building ferrocap (release)" >&2
cargo build --release --locked -p ferrocap
mkdir -p run

cat >&2 <<MSG

== starting ferrocap on deploy/demo.toml (Ctrl-C stops it cleanly)
   dumps:      run/smb.pcapng  run/web.pcapng  run/syn.pcap   (open them with wireshark or tshark -r)
   logs:       run/ferrocap-stats (packet log: PFLG-888-I records)   run/ferrocap-debug
   statistics: target/release/ferrocap stats run/ferrocap-stats [--html report.html]
   The demo replays about a million packets a second, so the packet log grows
   by several MB a second; dumps rotate at 50 MB and keep 2-4 files.
   metrics, HTTP API and web page: not built yet (the control-plane issue)

MSG
status=0
target/release/ferrocap run --config deploy/demo.toml "$@" || status=$?

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
