// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/vigil.yaml */
/* YNL-GEN kernel source */
/* To regenerate run: tools/net/ynl/ynl-regen.sh */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "vigil-nl-gen.h"

#include <uapi/linux/vigil.h>

/* VIGIL_CMD_CONFIG_GET - do */
static const struct nla_policy vigil_config_get_nl_policy[VIGIL_A_CONFIG_PIPELINE + 1] = {
	[VIGIL_A_CONFIG_PIPELINE] = { .type = NLA_NUL_STRING, },
};

/* Ops table for vigil */
static const struct genl_split_ops vigil_nl_ops[] = {
	{
		.cmd	= VIGIL_CMD_STAGE_STATS_GET,
		.dumpit	= vigil_nl_stage_stats_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd	= VIGIL_CMD_LATENCY_GET,
		.dumpit	= vigil_nl_latency_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd	= VIGIL_CMD_LANE_GET,
		.dumpit	= vigil_nl_lane_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= VIGIL_CMD_CONFIG_GET,
		.doit		= vigil_nl_config_get_doit,
		.policy		= vigil_config_get_nl_policy,
		.maxattr	= VIGIL_A_CONFIG_PIPELINE,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= VIGIL_CMD_CONFIG_GET,
		.dumpit	= vigil_nl_config_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
};

struct genl_family vigil_nl_family __ro_after_init = {
	.name		= VIGIL_FAMILY_NAME,
	.version	= VIGIL_FAMILY_VERSION,
	.netnsok	= true,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.split_ops	= vigil_nl_ops,
	.n_split_ops	= ARRAY_SIZE(vigil_nl_ops),
};
