/* SPDX-License-Identifier: GPL-2.0 */
/* C helpers for static inline kernel functions that Rust cannot call. */
#ifndef VIGIL_HELPERS_H
#define VIGIL_HELPERS_H

#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <linux/smp.h>

#include <net/genetlink.h>
#include <net/netfilter/nf_queue.h>

/*
 * kernel::bindings knows struct napi_struct only by name: Rust embeds it as
 * bytes of this size and alignment. The others let Rust check at build time
 * that its layouts of C structures match C's.
 */
enum vigil_sizes {
	VIGIL_NAPI_STRUCT_SIZE = sizeof(struct napi_struct),
	VIGIL_NAPI_STRUCT_ALIGN = __alignof__(struct napi_struct),
	VIGIL_NF_QUEUE_ENTRY_SIZE = sizeof(struct nf_queue_entry),
	VIGIL_NF_HOOK_OPS_SIZE = sizeof(struct nf_hook_ops),
	VIGIL_NF_HOOK_STATE_SIZE = sizeof(struct nf_hook_state),
};

struct sk_buff *vigil_alloc_skb(unsigned int size, gfp_t priority);
void vigil_kfree_skb(struct sk_buff *skb);
void vigil_kfree_skb_reason(struct sk_buff *skb, enum skb_drop_reason reason);
bool vigil_skb_is_gso(const struct sk_buff *skb);
bool vigil_skb_is_bridged(const struct sk_buff *skb);
bool vigil_netif_is_l3_master(const struct net_device *dev);
bool vigil_net_is_init(const struct net *net);
struct net *vigil_init_net(void);
struct net_device *vigil_netdev_notifier_dev(void *info);
int vigil_nf_reinject(struct nf_queue_entry *entry, const struct nf_hook_ops *ops,
		      enum skb_drop_reason gone);
bool vigil_entry_uses_dev(const struct nf_queue_entry *entry, const struct net_device *dev);
void *vigil_net_generic(const struct net *net, unsigned int id);
void vigil_test_skb_set_dying_dst(struct sk_buff *skb);
bool vigil_skb_dst_force(struct sk_buff *skb);
bool vigil_skb_sk_is_prefetched(struct sk_buff *skb);
void *vigil_skb_header_pointer(const struct sk_buff *skb, int offset, int len, void *buffer);
u32 vigil_skb_get_hash(struct sk_buff *skb);
void vigil_skb_set_mark(struct sk_buff *skb, u32 mark);
u32 vigil_skb_mark(const struct sk_buff *skb);
unsigned int vigil_skb_tailroom(const struct sk_buff *skb);

void vigil_napi_add(struct net_device *dev, struct napi_struct *napi,
		    int (*poll)(struct napi_struct *, int));
void vigil_napi_del(struct napi_struct *napi);
void vigil_napi_del_nosync(struct napi_struct *napi);
void vigil_synchronize_net(void);
void vigil_init_csd(call_single_data_t *csd, smp_call_func_t func, void *info);
unsigned int vigil_smp_processor_id(void);
unsigned int vigil_raw_smp_processor_id(void);
void vigil_local_bh_disable(void);
void vigil_local_bh_enable(void);

void *vigil_genl_dump_put(struct sk_buff *skb, struct netlink_callback *cb, u8 cmd);
void *vigil_genl_reply_put(struct sk_buff *skb, const struct genl_info *info);
int vigil_genl_reply(struct sk_buff *skb, struct genl_info *info);
/* String attribute `attrtype` of a request into `buf` (NUL-terminated): its length, -ENOENT if
 * absent, -E2BIG if truncated. */
ssize_t vigil_genl_attr_str(const struct genl_info *info, int attrtype, char *buf, size_t size);
struct nlattr *vigil_nla_nest_start(struct sk_buff *skb, int attrtype);
void vigil_nla_nest_end(struct sk_buff *skb, struct nlattr *start);
void vigil_nla_nest_cancel(struct sk_buff *skb, struct nlattr *start);

#endif /* VIGIL_HELPERS_H */
