// SPDX-License-Identifier: GPL-2.0
/*
 * What the GET_STATE dump reports of the machine beyond the CPU masks: which
 * nodes have present CPUs and how much online memory each node has. Read
 * from the kernel's own bookkeeping, so that the dump owes nothing to the
 * event hooks.
 */
#include <linux/cpumask.h>
#include <linux/memory.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/topology.h>

#include "state.h"

/* Present, not online: the dump lists a node's CPUs whether up or down. */
bool hpnotify_node_has_present_cpus(int nid)
{
	unsigned int cpu;

	for_each_present_cpu(cpu) {
		if (cpu_to_node(cpu) == nid)
			return true;
	}
	return false;
}

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
		max_t(unsigned long, 1, block_bytes / PFN_PHYS(PAGES_PER_SECTION));
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
