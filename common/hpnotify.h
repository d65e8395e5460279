/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/*
 * hpnotify: CPU and memory hotplug notifications over generic netlink.
 *
 * The protocol shared by the kernel module (kmod/) and user space (daemon/).
 * Its definition is common/hpnotify.yaml (Documentation/netlink/specs style);
 * tests/uapi/check_uapi.py holds this header to it.
 *
 * Conventions:
 *  - every enum starts at 1; 0 is never a valid command, attribute or type;
 *  - CPU sets are "bitmap" attributes: an array of __u64 words in host byte
 *    order, bit (n % 64) of word (n / 64) is CPU n; the attribute length
 *    (a multiple of 8) gives the number of words, which covers nr_cpu_ids;
 *  - __u64 attributes are 64-bit aligned with the *_PAD attribute of their set.
 */
#ifndef _UAPI_LINUX_HPNOTIFY_H
#define _UAPI_LINUX_HPNOTIFY_H

#define HPNOTIFY_FAMILY_NAME		"hpnotify"
#define HPNOTIFY_FAMILY_VERSION		1

#define HPNOTIFY_MCGRP_EVENTS		"events"

/* Value of HPNOTIFY_A_EVENT_TYPE: what happened. */
enum hpnotify_event_type {
	/* cpu device registered (hot-add), CPU not yet online */
	HPNOTIFY_EVENT_CPU_ARRIVED = 1,
	/* CPU hotplug prepare state, startup: bring-up begins */
	HPNOTIFY_EVENT_CPU_ADD_START,
	/*
	 * bring-up complete: a thread can be pinned to the CPU (unless it went
	 * offline again since; cpu_going_offline then follows)
	 */
	HPNOTIFY_EVENT_CPU_ONLINE,
	/* prepare state teardown of a CPU that never reached our online state */
	HPNOTIFY_EVENT_CPU_ADD_FAILED,
	/* CPU hotplug online state, teardown: the CPU is leaving */
	HPNOTIFY_EVENT_CPU_GOING_OFFLINE,
	/* prepare state teardown after the CPU died */
	HPNOTIFY_EVENT_CPU_OFFLINE,
	/* cpu device unregistered (hot-remove) */
	HPNOTIFY_EVENT_CPU_REMOVED,
	/* memory notifier MEM_GOING_ONLINE */
	HPNOTIFY_EVENT_MEM_GOING_ONLINE,
	/* memory notifier MEM_ONLINE */
	HPNOTIFY_EVENT_MEM_ONLINE,
	/* memory notifier MEM_CANCEL_ONLINE: an online was vetoed or failed */
	HPNOTIFY_EVENT_MEM_ONLINE_CANCELED,
	/* memory notifier MEM_GOING_OFFLINE */
	HPNOTIFY_EVENT_MEM_GOING_OFFLINE,
	/* memory notifier MEM_OFFLINE */
	HPNOTIFY_EVENT_MEM_OFFLINE,
	/* memory notifier MEM_CANCEL_OFFLINE */
	HPNOTIFY_EVENT_MEM_OFFLINE_CANCELED,
	/* a node gained its first online memory */
	HPNOTIFY_EVENT_NODE_MEM_ADDED,
	/* a node lost its last online memory */
	HPNOTIFY_EVENT_NODE_MEM_REMOVED,

	/* private: */
	__HPNOTIFY_EVENT_MAX,
	HPNOTIFY_EVENT_MAX = (__HPNOTIFY_EVENT_MAX - 1)
};

/* Attributes of HPNOTIFY_CMD_EVENT. */
enum {
	/* __u64: sequence number, +1 per event, never reused while loaded */
	HPNOTIFY_A_EVENT_SEQ = 1,
	/* __u64: CLOCK_BOOTTIME nanoseconds when the event happened */
	HPNOTIFY_A_EVENT_TIMESTAMP,
	/* __u32: enum hpnotify_event_type */
	HPNOTIFY_A_EVENT_TYPE,
	/* __u32: the CPU (cpu_* events) */
	HPNOTIFY_A_EVENT_CPU,
	/* __u32: the NUMA node of the CPU or of the memory range */
	HPNOTIFY_A_EVENT_NODE,
	/* __u64: physical start address of the memory range (mem_* events) */
	HPNOTIFY_A_EVENT_MEM_START,
	/* __u64: size in bytes of the memory range (mem_* events) */
	HPNOTIFY_A_EVENT_MEM_SIZE,
	/* __u32: number of active CPUs after the event (cpu_online sent, cpu_offline not) */
	HPNOTIFY_A_EVENT_ONLINE_CPUS,
	/* bitmap: the active-CPU set after the event */
	HPNOTIFY_A_EVENT_ONLINE_MASK,
	HPNOTIFY_A_EVENT_PAD,

	/* private: */
	__HPNOTIFY_A_EVENT_MAX,
	HPNOTIFY_A_EVENT_MAX = (__HPNOTIFY_A_EVENT_MAX - 1)
};

/*
 * Attributes of HPNOTIFY_CMD_GET_STATE replies. The request is a dump: the
 * first message carries the global attributes, then one message per node
 * carries one HPNOTIFY_A_STATE_NODE nest. A dump that raced with an event is
 * flagged NLM_F_DUMP_INTR: user space retries it.
 */
enum {
	/* __u64: sequence number of the last event emitted (0: none yet) */
	HPNOTIFY_A_STATE_LAST_SEQ = 1,
	/* __u32: nr_cpu_ids, the size of every CPU bitmap */
	HPNOTIFY_A_STATE_NR_CPU_IDS,
	/* bitmap: possible CPUs */
	HPNOTIFY_A_STATE_POSSIBLE_CPUS,
	/* bitmap: present CPUs */
	HPNOTIFY_A_STATE_PRESENT_CPUS,
	/* bitmap: online CPUs */
	HPNOTIFY_A_STATE_ONLINE_CPUS,
	/* nest, HPNOTIFY_A_NODE_*: one node */
	HPNOTIFY_A_STATE_NODE,
	HPNOTIFY_A_STATE_PAD,

	/* private: */
	__HPNOTIFY_A_STATE_MAX,
	HPNOTIFY_A_STATE_MAX = (__HPNOTIFY_A_STATE_MAX - 1)
};

/* Attributes nested in HPNOTIFY_A_STATE_NODE. */
enum {
	/* __u32: node id */
	HPNOTIFY_A_NODE_ID = 1,
	/* __u64: online memory of the node, in bytes */
	HPNOTIFY_A_NODE_MEM_BYTES,
	/* bitmap: present CPUs of the node (their node is this one) */
	HPNOTIFY_A_NODE_CPUS,
	HPNOTIFY_A_NODE_PAD,

	/* private: */
	__HPNOTIFY_A_NODE_MAX,
	HPNOTIFY_A_NODE_MAX = (__HPNOTIFY_A_NODE_MAX - 1)
};

/* Attributes of HPNOTIFY_CMD_GET_STATS replies. */
enum {
	/* __u64: sequence number of the last event emitted */
	HPNOTIFY_A_STATS_LAST_SEQ = 1,
	/* nest: one __u64 per event type, attribute type = event type */
	HPNOTIFY_A_STATS_SENT,
	/*
	 * __u64: events built but delivered to no listener: allocation or
	 * multicast error, or every listener's receive queue was full
	 */
	HPNOTIFY_A_STATS_SEND_FAILURES,
	/* __u64: events not built because nobody listened */
	HPNOTIFY_A_STATS_NO_LISTENER,
	/* __u32: 1 if the events group has listeners now, else 0 */
	HPNOTIFY_A_STATS_LISTENERS,
	HPNOTIFY_A_STATS_PAD,

	/* private: */
	__HPNOTIFY_A_STATS_MAX,
	HPNOTIFY_A_STATS_MAX = (__HPNOTIFY_A_STATS_MAX - 1)
};

/* Commands: requests and the event notification have distinct IDs. */
enum {
	/* request (dump), reply: the current CPU and memory picture */
	HPNOTIFY_CMD_GET_STATE = 1,
	/* request, reply: emission counters */
	HPNOTIFY_CMD_GET_STATS,
	/* notification on the "events" group: one hotplug event */
	HPNOTIFY_CMD_EVENT,

	/* private: */
	__HPNOTIFY_CMD_MAX,
	HPNOTIFY_CMD_MAX = (__HPNOTIFY_CMD_MAX - 1)
};

#endif /* _UAPI_LINUX_HPNOTIFY_H */
