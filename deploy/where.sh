#!/usr/bin/env bash
# Prints where a ferrocap config puts things: the dumps, the logs, the memory
# log, the metrics and the web page. Paths are as ferrocap resolves them
# (dump paths and the log directory against the working directory, DIR).
#
#   bash deploy/where.sh deploy/demo.toml [DIR]
#
# Reads the TOML with Python's tomllib (python3 >= 3.11, which the dpdk
# package pulls in for dpdk-devbind.py).
set -euo pipefail
config="${1:?usage: where.sh CONFIG [WORKING-DIR]}"
workdir="${2:-$PWD}"
exec python3 - "$config" "$workdir" <<'PY'
import os, sys, tomllib

path, workdir = sys.argv[1], sys.argv[2]
with open(path, "rb") as f:
    cfg = tomllib.load(f)

def where(p):
    return os.path.normpath(os.path.join(workdir, p))

dumps = cfg.get("dump", [])
print("   dumps:")
if not dumps:
    print("     (none configured)")
for d in dumps:
    fmt = d.get("format", "pcapng")
    p = d.get("path", f"{d['name']}.{fmt}")
    state = "" if d.get("start", True) else "  (stopped until started)"
    print(f"     {d['name']:<20} {where(p)}{state}")

log = cfg.get("log")
if log is None:
    # `ferrocap run` without [log]: files under ./run at level 5.
    log = {"output": "file", "dir": "run"}
if log.get("output", "syslog") == "file":
    d = log.get("dir", "/var/log")
    print(f"   logs:       {where(os.path.join(d, 'ferrocap-stats'))}   (statistics, packet log PFLG-888-I)")
    print(f"               {where(os.path.join(d, 'ferrocap-debug'))}   (everything else)")
else:
    print(f"   logs:       syslog, facility LOCAL4, via {log.get('syslog_path', '/dev/log')}")
mem = log.get("memory_log_path")
if mem:
    print(f"   memory log: {where(mem)}   (kept after a failure)")

bind = cfg.get("control", {}).get("bind", "127.0.0.1:9700")
host, _, port = bind.rpartition(":")
if host in ("0.0.0.0", ""):
    host = "127.0.0.1"
elif host in ("[::]", "::"):
    host = "[::1]"
print(f"   metrics:    http://{host}:{port}/metrics")
print(f"   web page:   http://{host}:{port}/")
print(f"   HTTP API:   http://{host}:{port}/api/v1/status")
PY
