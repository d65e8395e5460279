// SPDX-License-Identifier: GPL-2.0
/*
 * Memory hotplug: the memory notifier (mem_* events), node gaining its first
 * or losing its last memory (node_mem_* events, compat.h says from where),
 * and the online memory of a node for the GET_STATE dump.
 *
 * Notifiers always return NOTIFY_OK: reporting never vetoes an operation.
 */
#include <linux/memory.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/node.h>
#include <linux/notifier.h>

#include "compat.h"
#include "hpnotify.h"

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

static int hpnotify_memory_notify(struct notifier_block *nb,
				  unsigned long action, void *data)
{
	const struct memory_notify *arg = data;
	enum hpnotify_event_type type = hpnotify_mem_event_type(action);
	int status_change_nid;

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

	/* Kernels without the node notifier (compat.h). */
	status_change_nid = hpnotify_memory_status_change_nid(arg);
	if (status_change_nid >= 0) {
		if (action == MEM_ONLINE)
			hpnotify_send_node_event(HPNOTIFY_EVENT_NODE_MEM_ADDED,
						 status_change_nid);
		else if (action == MEM_OFFLINE)
			hpnotify_send_node_event(HPNOTIFY_EVENT_NODE_MEM_REMOVED,
						 status_change_nid);
	}
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

	switch (action) {
	case NODE_ADDED_FIRST_MEMORY:
		hpnotify_send_node_event(HPNOTIFY_EVENT_NODE_MEM_ADDED,
					 arg->nid);
		break;
	case NODE_REMOVED_LAST_MEMORY:
		hpnotify_send_node_event(HPNOTIFY_EVENT_NODE_MEM_REMOVED,
					 arg->nid);
		break;
	}
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

#ifdef CONFIG_SPARSEMEM
/*
 * Node of a memory block if the block is online, else NUMA_NO_NODE. A block
 * is online when it has present sections and all of them are online (as
 * /sys/devices/system/memory/memoryN/state says); its node is the node of
 * its first present section (the memmap of online sections is initialised).
 */
static int hpnotify_online_block_nid(unsigned long first_section,
				     unsigned long sections_per_block)
{
	unsigned long end = min(first_section + sections_per_block,
				NR_MEM_SECTIONS);
	int nid = NUMA_NO_NODE;
	unsigned long nr;

	for (nr = first_section; nr < end; nr++) {
		if (!present_section_nr(nr))
			continue;
		if (!online_section_nr(nr))
			return NUMA_NO_NODE;
		if (nid == NUMA_NO_NODE)
			nid = pfn_to_nid(section_nr_to_pfn(nr));
	}
	return nid;
}

/*
 * Online memory of @nid as sysfs counts it: online memory blocks of the node
 * times block_size_bytes. Read without the hotplug lock: a dump that races
 * with onlining or offlining is flagged NLM_F_DUMP_INTR by the event it
 * races with (netlink.c).
 */
u64 hpnotify_node_online_memory_bytes(int nid)
{
	unsigned long block_bytes = memory_block_size_bytes();
	unsigned long sections_per_block =
		max(1UL, block_bytes / PFN_PHYS(PAGES_PER_SECTION));
	unsigned long nr = 0;
	u64 bytes = 0;

	while (nr < NR_MEM_SECTIONS) {
		/*
		 * With SPARSEMEM_EXTREME a root of sections may be missing
		 * altogether: skip it whole when blocks do not span roots.
		 */
		if (!__nr_to_section(nr) && sections_per_block <= SECTIONS_PER_ROOT) {
			nr = round_up(nr + 1, SECTIONS_PER_ROOT);
			continue;
		}
		if (hpnotify_online_block_nid(nr, sections_per_block) == nid)
			bytes += block_bytes;
		nr += sections_per_block;
	}
	return bytes;
}
#else
/* Without SPARSEMEM there is no memory hotplug: all present memory counts. */
u64 hpnotify_node_online_memory_bytes(int nid)
{
	return (u64)node_present_pages(nid) << PAGE_SHIFT;
}
#endif
