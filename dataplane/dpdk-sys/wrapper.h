/* Headers bindgen reads. rte_config.h is force-included through the
 * `-include rte_config.h` that `pkg-config --cflags libdpdk` emits. */
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_cycles.h>
#include "shim.h"
