/* SPDX-License-Identifier: GPL-2.0 */
/* cpu.c: the cpuhp states, the deferred cpu_online and the cpu_subsys notifier. */
#ifndef _HPNOTIFY_CPU_H
#define _HPNOTIFY_CPU_H

int hpnotify_cpuhp_init(void);
void hpnotify_cpuhp_exit(void);
int hpnotify_cpu_bus_init(void);
void hpnotify_cpu_bus_exit(void);

#endif /* _HPNOTIFY_CPU_H */
