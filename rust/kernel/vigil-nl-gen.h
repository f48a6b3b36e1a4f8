/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/vigil.yaml */
/* YNL-GEN kernel header */
/* To regenerate run: tools/net/ynl/ynl-regen.sh */

#ifndef _LINUX_VIGIL_GEN_H
#define _LINUX_VIGIL_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/linux/vigil.h>

int vigil_nl_stage_stats_get_dumpit(struct sk_buff *skb,
				    struct netlink_callback *cb);
int vigil_nl_latency_get_dumpit(struct sk_buff *skb,
				struct netlink_callback *cb);
int vigil_nl_lane_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb);
int vigil_nl_config_get_doit(struct sk_buff *skb, struct genl_info *info);
int vigil_nl_config_get_dumpit(struct sk_buff *skb,
			       struct netlink_callback *cb);

extern struct genl_family vigil_nl_family;

#endif /* _LINUX_VIGIL_GEN_H */
