#!/usr/bin/env bash
# Reserves hugepages for ferrocap's DPDK memory, now and (with --persist)
# at every boot. Safe to run again: nothing is written that is already so.
#
#   sudo bash deploy/hugepages.sh --pages 1024                 # 1024 x 2 MiB = 2 GiB now
#   sudo bash deploy/hugepages.sh --pages 1024 --persist       # ... and at boot (sysctl.d)
#   sudo bash deploy/hugepages.sh --pages 1024 --node 0        # on NUMA node 0 only (the NIC's node)
#   sudo bash deploy/hugepages.sh --size 1G --pages 4 --persist  # 1 GiB pages: kernel command line
#   bash deploy/hugepages.sh --status                          # what is reserved and mounted
#
# How much: DPDK needs each port's mbuf pool ([[port]] pool_size x ~2.3 KB)
# plus descriptors and EAL overhead; 1-2 GiB per port is a good start. Put
# the pages on the NUMA node the NIC hangs off
# (cat /sys/bus/pci/devices/0000:03:00.0/numa_node).
#
# Persistence:
#   2M pages: /etc/sysctl.d/80-ferrocap-hugepages.conf (vm.nr_hugepages),
#             applied by systemd-sysctl early at boot. With --node the
#             per-node count is applied by ferrocap-hugepages.service
#             (a oneshot this script writes), since sysctl has no per-node key.
#   1G pages: can rarely be allocated after boot (memory is fragmented), so
#             they go on the kernel command line:
#             /etc/default/grub.d/80-ferrocap-hugepages.cfg, then update-grub
#             and a reboot.
# The hugetlbfs mount at /dev/hugepages is systemd's dev-hugepages.mount.
#
# The same thing with DPDK's own tool (not persistent):
#   dpdk-hugepages.py --setup 2G          # reserve and mount
#   dpdk-hugepages.py --show
#
# --root DIR prefixes every /sys and /etc path (for tests); nothing is mounted then.
set -euo pipefail

pages=""
size="2M"
node=""
persist=0
status=0
root=""

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

while (($#)); do
  case "$1" in
    --pages) pages="${2:-}"; shift 2 ;;
    --size) size="${2:-}"; shift 2 ;;
    --node) node="${2:-}"; shift 2 ;;
    --persist) persist=1; shift ;;
    --status) status=1; shift ;;
    --root) root="${2:-}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "hugepages: unknown argument $1" >&2; usage ;;
  esac
done

case "$size" in
  2M|2m|2048k|2048kB) size=2M; kb=2048 ;;
  1G|1g|1048576k|1048576kB) size=1G; kb=1048576 ;;
  *) echo "hugepages: --size is 2M or 1G, not $size" >&2; exit 2 ;;
esac

if [[ -n "$node" ]]; then
  sysdir="$root/sys/devices/system/node/node$node/hugepages/hugepages-${kb}kB"
else
  sysdir="$root/sys/kernel/mm/hugepages/hugepages-${kb}kB"
fi

show_status() {
  local d
  for d in "$root"/sys/kernel/mm/hugepages/hugepages-*; do
    [[ -d "$d" ]] || continue
    echo "hugepages: ${d##*/}: $(cat "$d/nr_hugepages") reserved, $(cat "$d/free_hugepages" 2>/dev/null || echo ?) free"
  done
  for d in "$root"/sys/devices/system/node/node*/hugepages/hugepages-*; do
    [[ -d "$d" ]] || continue
    local n="${d%/hugepages/*}"
    echo "hugepages:   ${n##*/} ${d##*/}: $(cat "$d/nr_hugepages") reserved"
  done
  if [[ -z "$root" ]]; then
    grep -E '\shugetlbfs\s' /proc/mounts | sed 's/^/hugepages: mounted: /' || echo "hugepages: no hugetlbfs mounted"
  fi
}

if ((status)); then
  show_status
  exit 0
fi

if ! [[ "$pages" =~ ^[0-9]+$ ]]; then
  echo "hugepages: --pages N is required (a number of $size pages)" >&2
  exit 2
fi

# Writes CONTENT to FILE unless it already holds exactly that.
write_if_changed() {
  local file="$1" content="$2"
  if [[ -f "$file" ]] && [[ "$(cat "$file")" == "$content" ]]; then
    echo "hugepages: $file unchanged" >&2
    return 1
  fi
  mkdir -p "$(dirname "$file")"
  printf '%s\n' "$content" >"$file"
  echo "hugepages: wrote $file" >&2
}

# 1. Now.
if [[ ! -e "$sysdir/nr_hugepages" ]]; then
  echo "hugepages: $sysdir does not exist (no ${size} pages on this kernel/CPU${node:+ or no node $node})" >&2
  exit 1
fi
current="$(cat "$sysdir/nr_hugepages")"
if [[ "$current" == "$pages" ]]; then
  echo "hugepages: $pages x $size already reserved${node:+ on node $node}" >&2
else
  echo "$pages" >"$sysdir/nr_hugepages"
  got="$(cat "$sysdir/nr_hugepages")"
  if [[ "$got" != "$pages" ]]; then
    echo "hugepages: asked for $pages x $size, the kernel gave $got (memory too fragmented:" \
      "reserve at boot with --persist, or free memory and retry)" >&2
    exit 1
  fi
  echo "hugepages: reserved $pages x $size${node:+ on node $node} (was $current)" >&2
fi

if [[ -z "$root" ]] && ! grep -qE '\shugetlbfs\s' /proc/mounts; then
  mkdir -p /dev/hugepages
  mount -t hugetlbfs -o "pagesize=$size" nodev /dev/hugepages
  echo "hugepages: mounted hugetlbfs on /dev/hugepages" >&2
fi

# 2. At boot.
((persist)) || exit 0
if [[ "$size" == 1G ]]; then
  if [[ -n "$node" ]]; then
    cmdline="default_hugepagesz=1G hugepagesz=1G hugepages=$node:$pages"
  else
    cmdline="default_hugepagesz=1G hugepagesz=1G hugepages=$pages"
  fi
  if write_if_changed "$root/etc/default/grub.d/80-ferrocap-hugepages.cfg" \
    "# Written by ferrocap deploy/hugepages.sh: 1 GiB hugepages at boot.
GRUB_CMDLINE_LINUX_DEFAULT=\"\${GRUB_CMDLINE_LINUX_DEFAULT} $cmdline\""; then
    echo "hugepages: now run update-grub and reboot" >&2
  fi
elif [[ -z "$node" ]]; then
  write_if_changed "$root/etc/sysctl.d/80-ferrocap-hugepages.conf" \
    "# Written by ferrocap deploy/hugepages.sh: 2 MiB hugepages for DPDK.
vm.nr_hugepages = $pages" || true
else
  if write_if_changed "$root/etc/systemd/system/ferrocap-hugepages.service" \
    "# Written by ferrocap deploy/hugepages.sh: 2 MiB hugepages on NUMA node $node.
[Unit]
Description=Reserve hugepages for ferrocap on NUMA node $node
DefaultDependencies=no
Before=ferrocap.service
After=local-fs.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'echo $pages > /sys/devices/system/node/node$node/hugepages/hugepages-2048kB/nr_hugepages'

[Install]
WantedBy=sysinit.target"; then
    if [[ -z "$root" ]]; then
      systemctl daemon-reload && systemctl enable ferrocap-hugepages.service
    fi
  fi
fi
