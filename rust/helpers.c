// SPDX-License-Identifier: GPL-2.0
/* C helpers for static inline kernel functions that Rust cannot call. */
#include "helpers.h"

struct sk_buff *vigil_alloc_skb(unsigned int size, gfp_t priority)
{
	return alloc_skb(size, priority);
}

void vigil_kfree_skb(struct sk_buff *skb)
{
	kfree_skb(skb);
}
