/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every kernel API difference hpnotify cares about, in one place.
 *
 * Features are detected at build time from the kernel headers we compile
 * against: a macro the feature defines where there is one, the version code
 * where there is none. Never from .config.
 */
#ifndef _HPNOTIFY_COMPAT_H
#define _HPNOTIFY_COMPAT_H

#include <linux/bitmap.h>
#include <linux/memory.h>
#include <linux/node.h>
#include <linux/numa.h>
#include <linux/version.h>
#include <net/genetlink.h>

/* Generic netlink small ops (5.10) are the oldest API we rely on. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 10, 0)
#error "hpnotify needs Linux 5.10 or newer"
#endif

/*
 * Who may join the "events" multicast group.
 *
 * GENL_MCAST_CAP_NET_ADMIN and struct genl_multicast_group.flags came
 * together (mainline 6.8, and stable backports: Debian's 6.1 has them), so
 * the macro tells both. Where it is missing the group is open to every user:
 * events then reveal no more than /sys/devices/system/{cpu,memory,node}
 * already shows to everyone, and the requests (state, stats) still need
 * CAP_NET_ADMIN (GENL_ADMIN_PERM).
 */
#ifdef GENL_MCAST_CAP_NET_ADMIN
#define HPNOTIFY_MCGRP_PERM	.flags = GENL_MCAST_CAP_NET_ADMIN,
#else
#define HPNOTIFY_MCGRP_PERM
#endif

/*
 * struct genl_family.resv_start_op (6.1): commands from this one on get
 * strict validation and reject attributes they have no policy for. Ours
 * take no attributes, so all of them are strict. Older kernels validate
 * small ops strictly by default (validate == 0) and have no such field.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 1, 0)
#define HPNOTIFY_GENL_RESV_START_OP	.resv_start_op = HPNOTIFY_CMD_GET_STATE,
#else
#define HPNOTIFY_GENL_RESV_START_OP
#endif

/* bitmap_to_arr64() came in 5.19. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 19, 0)
static inline void hpnotify_bitmap_to_arr64(u64 *buf,
					    const unsigned long *bitmap,
					    unsigned int nbits)
{
	unsigned int bit;

	memset(buf, 0, DIV_ROUND_UP(nbits, 64) * sizeof(u64));
	for_each_set_bit(bit, bitmap, nbits)
		buf[bit / 64] |= BIT_ULL(bit % 64);
}
#define bitmap_to_arr64 hpnotify_bitmap_to_arr64
#endif

/*
 * CPUHP_BP_PREPARE_DYN and the state number.
 *
 * Before "cpu/hotplug: Fix dynstate assignment in
 * __cpuhp_setup_state_cpuslocked()" (932d8476399f, 6.10, Cc: stable; the
 * Debian 6.1 kernel has it) __cpuhp_setup_state_cpuslocked() did not treat
 * CPUHP_BP_PREPARE_DYN as dynamic. Read in the unfixed source, that means:
 * the startup callbacks were not invoked for present CPUs, and the value
 * returned was what cpuhp_store_callbacks() returned, which for a dynamic
 * state is the positive state number. hpnotify never asks for the startup
 * calls (the _nocalls variant; it seeds its per-CPU flags itself), so on
 * kernels that return the number it needs nothing else.
 *
 * The contract we code against says older kernels may return 0 instead.
 * A 0 from a dynamic range means "installed, number unknown": the slot holds
 * our callbacks and cannot be removed by number, so neither failing the
 * load nor unloading later is safe (the callbacks would outlive the module
 * text), and there is no exported way to look the number up. Our choice:
 * keep working and pin the module (rmmod then answers EBUSY), with one
 * warning at load. HPNOTIFY_CPUHP_STATE_UNKNOWN marks that case. The
 * prepare state is therefore set up last in hpnotify_cpuhp_init(); the init
 * steps after it (bus and memory notifier registration) cannot fail in
 * practice, which is the one residual risk of this choice.
 */
#define HPNOTIFY_CPUHP_STATE_UNKNOWN	0

/*
 * Nodes gaining their first / losing their last memory.
 *
 * Up to 6.16 struct memory_notify carries status_change_nid: >= 0 at
 * MEM_ONLINE when the node had no memory before, >= 0 at MEM_OFFLINE when
 * the node has none left (-1 otherwise). 6.17 removed the field and added
 * the node notifier (register_node_notifier(), NODE_ADDED_FIRST_MEMORY,
 * NODE_REMOVED_LAST_MEMORY, data struct node_notify). NODE_ADDED_FIRST_MEMORY
 * is a macro of <linux/node.h>, so it tells which kernel we build for:
 *
 *   HPNOTIFY_HAVE_NODE_NOTIFIER 1: the node notifier tells the node;
 *     hpnotify_memory_status_change_nid() is always NUMA_NO_NODE.
 *   HPNOTIFY_HAVE_NODE_NOTIFIER 0: MEM_ONLINE / MEM_OFFLINE's
 *     status_change_nid tells it; there is no node notifier to register.
 *
 * The 6.17 node notifier runs inside the same online_pages() /
 * offline_pages() call, under mem_hotplug_lock, just before the memory
 * notifier's MEM_ONLINE / MEM_OFFLINE (after it, the kernel does nothing
 * that can fail). memory.c therefore holds the node back and sends it after
 * the block's event, the order of every older kernel: mem_online, then
 * node_mem_added; mem_offline, then node_mem_removed.
 */
#ifdef NODE_ADDED_FIRST_MEMORY
#define HPNOTIFY_HAVE_NODE_NOTIFIER	1

static inline int
hpnotify_memory_status_change_nid(const struct memory_notify *arg)
{
	return NUMA_NO_NODE;
}
#else
#define HPNOTIFY_HAVE_NODE_NOTIFIER	0

static inline int
hpnotify_memory_status_change_nid(const struct memory_notify *arg)
{
	return arg->status_change_nid;
}
#endif

#endif /* _HPNOTIFY_COMPAT_H */
