/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hpnotify internals shared by main.c, netlink.c, cpu.c and memory.c.
 *
 * Context: every hook that emits (cpuhp prepare and online callbacks, the
 * cpu_subsys bus notifier, the memory and node notifiers) runs in process
 * context and may sleep, so emission takes a mutex and allocates with
 * GFP_KERNEL (see netlink.c).
 */
#ifndef _HPNOTIFY_H
#define _HPNOTIFY_H

#include <linux/cpumask.h>
#include <linux/types.h>

/*
 * The protocol, common/hpnotify.h. Angle brackets: this file has the same
 * name, and kmod/ is not on the include path while ../common is (Kbuild).
 */
#include <hpnotify.h>

/* Multicast groups, by index in the family's mcgrps array. */
enum hpnotify_multicast_group {
	HPNOTIFY_NLGRP_EVENTS,
};

/* netlink.c: the generic netlink family and the event senders */
int hpnotify_netlink_init(void);
void hpnotify_netlink_exit(void);
void hpnotify_events_init(void);
void hpnotify_events_set_cpus(const struct cpumask *online);

void hpnotify_send_cpu_event(enum hpnotify_event_type type, unsigned int cpu);
void hpnotify_send_mem_event(enum hpnotify_event_type type, u64 start,
			     u64 size, int nid);
void hpnotify_send_node_event(enum hpnotify_event_type type, int nid);

/* cpu.c: cpuhp states and the cpu_subsys bus notifier */
int hpnotify_cpuhp_init(void);
void hpnotify_cpuhp_exit(void);
int hpnotify_cpu_bus_init(void);
void hpnotify_cpu_bus_exit(void);

/* memory.c: memory notifier, node notifier (6.17+), online memory per node */
int hpnotify_memory_init(void);
void hpnotify_memory_exit(void);
int hpnotify_node_init(void);
void hpnotify_node_exit(void);
u64 hpnotify_node_online_memory_bytes(int nid);

#endif /* _HPNOTIFY_H */
