/* See shim.h. Compiled with the raw `pkg-config --cflags libdpdk` output. */
#include <rte_config.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_cycles.h>

#include "shim.h"

uint16_t ferrocap_eth_rx_burst(uint16_t port_id, uint16_t queue_id,
                               struct rte_mbuf **rx_pkts, uint16_t nb_pkts)
{
	return rte_eth_rx_burst(port_id, queue_id, rx_pkts, nb_pkts);
}

void ferrocap_pktmbuf_free(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

const uint8_t *ferrocap_pktmbuf_data(const struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, const uint8_t *);
}

uint32_t ferrocap_pktmbuf_pkt_len(const struct rte_mbuf *m)
{
	return rte_pktmbuf_pkt_len(m);
}

uint16_t ferrocap_pktmbuf_data_len(const struct rte_mbuf *m)
{
	return rte_pktmbuf_data_len(m);
}

uint16_t ferrocap_pktmbuf_nb_segs(const struct rte_mbuf *m)
{
	return m->nb_segs;
}

uint16_t ferrocap_pktmbuf_port(const struct rte_mbuf *m)
{
	return m->port;
}

unsigned int ferrocap_lcore_id(void)
{
	return rte_lcore_id();
}

int ferrocap_errno(void)
{
	return rte_errno;
}

void ferrocap_prefetch0(const void *p)
{
	rte_prefetch0(p);
}

uint64_t ferrocap_get_tsc_cycles(void)
{
	return rte_get_tsc_cycles();
}

const uint64_t ferrocap_eth_rss_ip_tcp_udp =
	RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP;
