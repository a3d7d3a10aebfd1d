/* ferrocap shim: out-of-line wrappers for DPDK's static-inline functions and
 * macros, so Rust can call them. Every function is a one-line forward. */
#ifndef FERROCAP_DPDK_SHIM_H
#define FERROCAP_DPDK_SHIM_H

#include <stdint.h>

struct rte_mbuf;

/* rte_eth_rx_burst */
uint16_t ferrocap_eth_rx_burst(uint16_t port_id, uint16_t queue_id,
                               struct rte_mbuf **rx_pkts, uint16_t nb_pkts);
/* rte_pktmbuf_free */
void ferrocap_pktmbuf_free(struct rte_mbuf *m);
/* rte_pktmbuf_mtod(m, const uint8_t *) */
const uint8_t *ferrocap_pktmbuf_data(const struct rte_mbuf *m);
/* rte_pktmbuf_pkt_len: length of the whole chain */
uint32_t ferrocap_pktmbuf_pkt_len(const struct rte_mbuf *m);
/* rte_pktmbuf_data_len: length of this segment */
uint16_t ferrocap_pktmbuf_data_len(const struct rte_mbuf *m);
/* m->nb_segs */
uint16_t ferrocap_pktmbuf_nb_segs(const struct rte_mbuf *m);
/* m->port */
uint16_t ferrocap_pktmbuf_port(const struct rte_mbuf *m);
/* rte_lcore_id(): UINT32_MAX on a thread that is not an EAL lcore */
unsigned int ferrocap_lcore_id(void);
/* rte_errno (a per-lcore TLS variable behind a macro) */
int ferrocap_errno(void);
/* rte_prefetch0 */
void ferrocap_prefetch0(const void *p);
/* rte_get_tsc_cycles */
uint64_t ferrocap_get_tsc_cycles(void);

/* RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP (function-like macros in C) */
extern const uint64_t ferrocap_eth_rss_ip_tcp_udp;

#endif
