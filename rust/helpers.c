// SPDX-License-Identifier: GPL-2.0
/* C helpers for static inline kernel functions that Rust cannot call. */
#include <net/dst.h>
#include <net/sock.h>

#include "helpers.h"

struct sk_buff *vigil_alloc_skb(unsigned int size, gfp_t priority)
{
	return alloc_skb(size, priority);
}

void vigil_kfree_skb(struct sk_buff *skb)
{
	kfree_skb(skb);
}

/* As __nf_queue: only a packet with a route needs (and may fail) skb_dst_force. */
bool vigil_skb_dst_force(struct sk_buff *skb)
{
	return !skb_dst(skb) || skb_dst_force(skb);
}

bool vigil_skb_sk_is_prefetched(struct sk_buff *skb)
{
	return skb_sk_is_prefetched(skb);
}

void *vigil_skb_header_pointer(const struct sk_buff *skb, int offset, int len, void *buffer)
{
	return skb_header_pointer(skb, offset, len, buffer);
}

u32 vigil_skb_get_hash(struct sk_buff *skb)
{
	return skb_get_hash(skb);
}

/* Plain field accesses, kept in C because sk_buff's unions make them unwieldy in bindgen. */
void vigil_skb_set_mark(struct sk_buff *skb, u32 mark)
{
	skb->mark = mark;
}

u32 vigil_skb_mark(const struct sk_buff *skb)
{
	return skb->mark;
}

unsigned int vigil_skb_tailroom(const struct sk_buff *skb)
{
	return skb_tailroom(skb);
}

void vigil_napi_add(struct net_device *dev, struct napi_struct *napi,
		    int (*poll)(struct napi_struct *, int))
{
	netif_napi_add(dev, napi, poll);
}

void vigil_napi_del(struct napi_struct *napi)
{
	netif_napi_del(napi);
}

/* Without the grace period, so that a caller deleting many waits only once. */
void vigil_napi_del_nosync(struct napi_struct *napi)
{
	__netif_napi_del(napi);
}

void vigil_synchronize_net(void)
{
	synchronize_net();
}

void vigil_init_csd(call_single_data_t *csd, smp_call_func_t func, void *info)
{
	INIT_CSD(csd, func, info);
}

unsigned int vigil_smp_processor_id(void)
{
	return smp_processor_id();
}

void vigil_local_bh_disable(void)
{
	local_bh_disable();
}

void vigil_local_bh_enable(void)
{
	local_bh_enable();
}
