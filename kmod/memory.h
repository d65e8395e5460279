/* SPDX-License-Identifier: GPL-2.0 */
/* memory.c: the memory notifier and, on 6.17+, the node notifier. */
#ifndef _HPNOTIFY_MEMORY_H
#define _HPNOTIFY_MEMORY_H

int hpnotify_memory_init(void);
void hpnotify_memory_exit(void);
int hpnotify_node_init(void);
void hpnotify_node_exit(void);

#endif /* _HPNOTIFY_MEMORY_H */
