/* SPDX-License-Identifier: GPL-2.0 */
/* state.c: what the GET_STATE dump reports of the machine, read from the kernel. */
#ifndef _HPNOTIFY_STATE_H
#define _HPNOTIFY_STATE_H

#include <linux/types.h>

/* Online memory of @nid as sysfs counts it (online blocks x block size). */
u64 hpnotify_node_online_memory_bytes(int nid);
bool hpnotify_node_has_present_cpus(int nid);

#endif /* _HPNOTIFY_STATE_H */
