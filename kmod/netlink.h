/* SPDX-License-Identifier: GPL-2.0 */
/*
 * netlink.c: the "hpnotify" generic netlink family and its one event send
 * path. Every hook that emits (cpuhp prepare and online callbacks, the
 * online work, the cpu_subsys bus notifier, the memory and node notifiers)
 * runs in process context and may sleep: emission takes a mutex and
 * allocates with GFP_KERNEL.
 */
#ifndef _HPNOTIFY_NETLINK_H
#define _HPNOTIFY_NETLINK_H

#include <linux/cpumask.h>
#include <linux/numa.h>
#include <linux/types.h>

#include <hpnotify.h>	/* the protocol, common/hpnotify.h */

/* What one event says beyond seq, timestamp, type and the active CPUs. */
struct hpnotify_event {
	enum hpnotify_event_type type;
	bool has_cpu;
	unsigned int cpu;
	int nid;		/* NUMA_NO_NODE: no node attribute */
	bool has_range;
	u64 start;		/* physical address */
	u64 size;		/* bytes */
};

int hpnotify_netlink_init(void);
void hpnotify_netlink_exit(void);
void hpnotify_events_init(void);
/* The active CPUs of the next event, before any CPU hook is installed. */
void hpnotify_events_set_cpus(const struct cpumask *online);

/* Never fails its caller: a failure is counted in send_failures. */
void hpnotify_send_event(const struct hpnotify_event *ev);

static inline void hpnotify_send_cpu_event(enum hpnotify_event_type type,
					   unsigned int cpu)
{
	struct hpnotify_event ev = {
		.type = type,
		.has_cpu = true,
		.cpu = cpu,
		.nid = cpu_to_node(cpu),
	};

	hpnotify_send_event(&ev);
}

static inline void hpnotify_send_mem_event(enum hpnotify_event_type type,
					   u64 start, u64 size, int nid)
{
	struct hpnotify_event ev = {
		.type = type,
		.nid = nid,
		.has_range = true,
		.start = start,
		.size = size,
	};

	hpnotify_send_event(&ev);
}

static inline void hpnotify_send_node_event(enum hpnotify_event_type type,
					    int nid)
{
	struct hpnotify_event ev = { .type = type, .nid = nid };

	hpnotify_send_event(&ev);
}

#endif /* _HPNOTIFY_NETLINK_H */
