// SPDX-License-Identifier: GPL-2.0
/* C helpers for static inline kernel functions that Rust cannot call. */
#include <linux/netfilter_bridge.h>
#include <net/dst.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/sock.h>

#include "helpers.h"
#include "vigil-nl-gen.h"

struct sk_buff *vigil_alloc_skb(unsigned int size, gfp_t priority)
{
	return alloc_skb(size, priority);
}

void vigil_kfree_skb(struct sk_buff *skb)
{
	kfree_skb(skb);
}

void vigil_kfree_skb_reason(struct sk_buff *skb, enum skb_drop_reason reason)
{
	kfree_skb_reason(skb, reason);
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

bool vigil_skb_is_gso(const struct sk_buff *skb)
{
	return skb_is_gso(skb);
}

/* br_netfilter's packets: their bridge ports are not vigil's to keep. */
bool vigil_skb_is_bridged(const struct sk_buff *skb)
{
#if IS_ENABLED(CONFIG_BRIDGE_NETFILTER)
	return nf_bridge_info_exists(skb);
#else
	return false;
#endif
}

bool vigil_netif_is_l3_master(const struct net_device *dev)
{
	return dev && netif_is_l3_master(dev);
}

bool vigil_net_is_init(const struct net *net)
{
	return net_eq(net, &init_net);
}

struct net *vigil_init_net(void)
{
	return &init_net;
}

struct net_device *vigil_netdev_notifier_dev(void *info)
{
	return netdev_notifier_info_to_dev(info);
}

/* As nfnetlink_queue's nf_hook_entries_head(): the hook list a packet was stolen from. */
static const struct nf_hook_entries *vigil_hook_entries(const struct net *net, u8 pf, u8 hook)
{
	switch (pf) {
	case NFPROTO_IPV4:
		return rcu_dereference(net->nf.hooks_ipv4[hook]);
	case NFPROTO_IPV6:
		return rcu_dereference(net->nf.hooks_ipv6[hook]);
	default:
		return NULL;
	}
}

/*
 * As nf_reinject() for an accepted packet: the hooks after vigil's own (@ops)
 * in the packet's current hook list run, and okfn only on a final accept; a
 * later hook may also drop, queue or steal it. The entry is freed.
 *
 * vigil's position is looked up again, by its ops, rather than kept from the
 * steal: any hook registered or removed meanwhile moves it. Returns 0 when the
 * packet went on (to okfn or a later hook's verdict), -ENOENT when vigil's hook
 * is gone from that list (its namespace or the registration is going away; the
 * packet is freed with @gone), or what nf_hook_slow() returned on a drop.
 */
int vigil_nf_reinject(struct nf_queue_entry *entry, const struct nf_hook_ops *ops,
		      enum skb_drop_reason gone)
{
	const struct nf_hook_entries *hooks;
	struct nf_hook_ops **orig_ops;
	struct sk_buff *skb = entry->skb;
	unsigned int i, n = 0;
	int ret = -ENOENT;

	rcu_read_lock();
	hooks = vigil_hook_entries(entry->state.net, entry->state.pf, entry->state.hook);
	if (hooks) {
		n = hooks->num_hook_entries;
		orig_ops = nf_hook_entries_get_hook_ops(hooks);
		for (i = 0; i < n; i++)
			if (orig_ops[i] == ops)
				break;
	}
	if (!hooks || i == n) {
		kfree_skb_reason(skb, gone);
	} else {
		local_bh_disable();
		ret = nf_hook_slow(skb, &entry->state, hooks, i + 1);
		if (ret == 1) {
			entry->state.okfn(entry->state.net, entry->state.sk, skb);
			ret = 0;
		}
		local_bh_enable();
	}
	rcu_read_unlock();
	nf_queue_entry_free(entry);
	return ret;
}

/* Whether a stolen packet refers to @dev, as nfnetlink_queue's dev_cmp() asks. */
bool vigil_entry_uses_dev(const struct nf_queue_entry *entry, const struct net_device *dev)
{
	if (entry->state.in == dev || entry->state.out == dev || entry->skb_dev == dev)
		return true;
#if IS_ENABLED(CONFIG_BRIDGE_NETFILTER)
	if (entry->physin == dev || entry->physout == dev || entry->bridge_dev == dev)
		return true;
#endif
	return false;
}

void *vigil_net_generic(const struct net *net, unsigned int id)
{
	return net_generic(net, id);
}

#if IS_ENABLED(CONFIG_KUNIT)
/*
 * For a KUnit test: gives @skb a route that is going away (its last reference
 * dropped, not yet freed), as a packet may carry without a reference under RCU.
 * skb_dst_force() then fails on it. Call under rcu_read_lock().
 */
void vigil_test_skb_set_dying_dst(struct sk_buff *skb)
{
	static struct dst_entry dying;

	atomic_set(&dying.__rcuref.refcnt, RCUREF_DEAD);
	skb_dst_set_noref(skb, &dying);
}
#endif

/* The CPU this runs on, or ran on a moment ago: for per-CPU counters updated atomically. */
unsigned int vigil_raw_smp_processor_id(void)
{
	return raw_smp_processor_id();
}

/* Generic netlink: the family is vigil-nl-gen.c's. */
void *vigil_genl_dump_put(struct sk_buff *skb, struct netlink_callback *cb, u8 cmd)
{
	return genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			   &vigil_nl_family, NLM_F_MULTI, cmd);
}

void *vigil_genl_reply_put(struct sk_buff *skb, const struct genl_info *info)
{
	return genlmsg_iput(skb, info);
}

int vigil_genl_reply(struct sk_buff *skb, struct genl_info *info)
{
	return genlmsg_reply(skb, info);
}

ssize_t vigil_genl_attr_str(const struct genl_info *info, int attrtype, char *buf, size_t size)
{
	if (!info->attrs || !info->attrs[attrtype])
		return -ENOENT;
	return nla_strscpy(buf, info->attrs[attrtype], size);
}

struct nlattr *vigil_nla_nest_start(struct sk_buff *skb, int attrtype)
{
	return nla_nest_start(skb, attrtype);
}

void vigil_nla_nest_end(struct sk_buff *skb, struct nlattr *start)
{
	nla_nest_end(skb, start);
}

void vigil_nla_nest_cancel(struct sk_buff *skb, struct nlattr *start)
{
	nla_nest_cancel(skb, start);
}
