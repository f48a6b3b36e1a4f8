/* SPDX-License-Identifier: GPL-2.0 */
/* C helpers for static inline kernel functions that Rust cannot call. */
#ifndef VIGIL_HELPERS_H
#define VIGIL_HELPERS_H

#include <linux/skbuff.h>

struct sk_buff *vigil_alloc_skb(unsigned int size, gfp_t priority);
void vigil_kfree_skb(struct sk_buff *skb);

#endif /* VIGIL_HELPERS_H */
