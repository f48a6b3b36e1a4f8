/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bindgen input for vigil's module-local bindings: what `kernel::bindings`
 * lacks (the netfilter hook API), vigil's C helpers, and its generic netlink
 * family and attribute numbers (generated from its YNL spec). bindgen runs with
 * --no-recursive-allowlist, so types the kernel binds already (sk_buff, net,
 * net_device...) are reused from there rather than generated again.
 */
#include <linux/netfilter.h>
#include <net/netfilter/nf_queue.h>

#include "helpers.h"
#include "vigil-nl-gen.h"
