// SPDX-License-Identifier: GPL-2.0
/*
 * Memory hotplug: the memory notifier (mem_* events) and a node gaining its
 * first or losing its last memory (node_mem_* events, compat.h says from
 * where).
 *
 * Notifiers always return NOTIFY_OK: reporting never vetoes an operation.
 */
#include <linux/memory.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/node.h>
#include <linux/notifier.h>

#include "compat.h"
#include "memory.h"
#include "netlink.h"

static enum hpnotify_event_type hpnotify_mem_event_type(unsigned long action)
{
	switch (action) {
	case MEM_GOING_ONLINE:
		return HPNOTIFY_EVENT_MEM_GOING_ONLINE;
	case MEM_ONLINE:
		return HPNOTIFY_EVENT_MEM_ONLINE;
	case MEM_CANCEL_ONLINE:
		return HPNOTIFY_EVENT_MEM_ONLINE_CANCELED;
	case MEM_GOING_OFFLINE:
		return HPNOTIFY_EVENT_MEM_GOING_OFFLINE;
	case MEM_OFFLINE:
		return HPNOTIFY_EVENT_MEM_OFFLINE;
	case MEM_CANCEL_OFFLINE:
		return HPNOTIFY_EVENT_MEM_OFFLINE_CANCELED;
	}
	return 0;
}

/*
 * The node gaining its first or losing its last memory in the memory
 * hotplug operation under way, when the node notifier told it (6.17+,
 * compat.h): reported after the block's MEM_ONLINE / MEM_OFFLINE event.
 * Operations are serialised by mem_hotplug_lock, which both notifier
 * chains run under, so one slot is enough; a new operation's
 * MEM_GOING_* clears what an earlier one left (none should).
 */
static int hpnotify_pending_node = NUMA_NO_NODE;

static int hpnotify_memory_notify(struct notifier_block *nb,
				  unsigned long action, void *data)
{
	const struct memory_notify *arg = data;
	enum hpnotify_event_type type = hpnotify_mem_event_type(action);
	int node;

	if (!type)
		return NOTIFY_OK;

	/*
	 * status_change_nid is -1 when the node already had memory, so the
	 * node of the range comes from its first page, whose memmap is
	 * initialised from MEM_GOING_ONLINE up to MEM_OFFLINE and
	 * MEM_CANCEL_ONLINE included.
	 */
	hpnotify_send_mem_event(type, PFN_PHYS(arg->start_pfn),
				(u64)arg->nr_pages << PAGE_SHIFT,
				pfn_to_nid(arg->start_pfn));

	switch (action) {
	case MEM_GOING_ONLINE:
	case MEM_GOING_OFFLINE:
		hpnotify_pending_node = NUMA_NO_NODE;
		return NOTIFY_OK;
	case MEM_ONLINE:
	case MEM_OFFLINE:
		break;
	default:
		return NOTIFY_OK;
	}

	node = hpnotify_memory_status_change_nid(arg);
	if (node == NUMA_NO_NODE)
		node = hpnotify_pending_node;
	hpnotify_pending_node = NUMA_NO_NODE;
	if (node == NUMA_NO_NODE)
		return NOTIFY_OK;
	hpnotify_send_node_event(action == MEM_ONLINE ?
				 HPNOTIFY_EVENT_NODE_MEM_ADDED :
				 HPNOTIFY_EVENT_NODE_MEM_REMOVED, node);
	return NOTIFY_OK;
}

static struct notifier_block hpnotify_memory_nb = {
	.notifier_call = hpnotify_memory_notify,
};

int hpnotify_memory_init(void)
{
	return register_memory_notifier(&hpnotify_memory_nb);
}

void hpnotify_memory_exit(void)
{
	unregister_memory_notifier(&hpnotify_memory_nb);
}

#if HPNOTIFY_HAVE_NODE_NOTIFIER
/* 6.17+: struct memory_notify has no status_change_nid (compat.h). */
static int hpnotify_node_notify(struct notifier_block *nb,
				unsigned long action, void *data)
{
	const struct node_notify *arg = data;

	/* Sent by hpnotify_memory_notify(), after the block's own event. */
	if (action == NODE_ADDED_FIRST_MEMORY ||
	    action == NODE_REMOVED_LAST_MEMORY)
		hpnotify_pending_node = arg->nid;
	return NOTIFY_OK;
}

static struct notifier_block hpnotify_node_nb = {
	.notifier_call = hpnotify_node_notify,
};

int hpnotify_node_init(void)
{
	return register_node_notifier(&hpnotify_node_nb);
}

void hpnotify_node_exit(void)
{
	unregister_node_notifier(&hpnotify_node_nb);
}
#else
/* Up to 6.16 the memory notifier reports node changes: nothing to hook. */
int hpnotify_node_init(void)
{
	return 0;
}

void hpnotify_node_exit(void)
{
}
#endif
