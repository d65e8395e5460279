// SPDX-License-Identifier: GPL-2.0
/*
 * CPU hotplug: two dynamic cpuhp states and the cpu_subsys bus notifier.
 *
 *   hot-add:   cpu_arrived (bus ADD_DEVICE), later when onlined:
 *              cpu_add_start (prepare startup), cpu_online (deferred from
 *              the online startup until a thread can be pinned to the CPU)
 *   failure:   cpu_add_start, cpu_add_failed (prepare teardown, the CPU never
 *              reached our online state)
 *   offline:   cpu_going_offline (online teardown), cpu_offline (prepare
 *              teardown after the CPU died)
 *   hot-remove: cpu_removed (bus REMOVED_DEVICE)
 *
 * The callbacks always return 0 and the notifier NOTIFY_OK: reporting never
 * vetoes or fails a hotplug operation.
 */
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/device.h>
#include <linux/module.h>
#include <linux/notifier.h>
#include <linux/percpu.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "cpu.h"
#include "netlink.h"

/*
 * Per CPU: did the CPU reach our online state since its prepare startup?
 * Decides what the prepare teardown reports. Written and read only by the
 * hotplug callbacks of that CPU, which the hotplug core runs one at a time
 * (and by init, under cpus_read_lock()).
 */
static DEFINE_PER_CPU(bool, hpnotify_reached_online);

/* The dynamic states we got, as cpuhp_setup_state*() returned them. */
static int hpnotify_prepare_state;
static int hpnotify_online_state;

/*
 * cpu_online promises that a thread can be pinned to the CPU. At our online
 * startup that is not true yet: the CPU becomes active only after the last
 * online state, and cpusets gain it later still (cpuset_hotplug_workfn, which
 * cpu_up() waits for before it returns, so that user space is never told of
 * a CPU it cannot use). So the startup only marks the CPU
 * pending and queues hpnotify_online_work, which waits until the bring-up is
 * over and sends cpu_online then:
 *
 *  - sysfs "online" writes and add_cpu() online the CPU with its device
 *    lock held until cpu_up() has returned, cpusets included:
 *    taking and dropping that lock waits exactly for that;
 *  - paths that take no device lock (SMT control, the cpuhp "target" file,
 *    resume) are waited for up to the end of the hotplug write lock: the CPU
 *    is active then, cpusets may follow a few milliseconds later (on resume
 *    they never lost it, and user space is still frozen).
 *
 * The online teardown sends a still pending cpu_online first, so that
 * cpu_going_offline never precedes it. Bits are set and cleared by the
 * hotplug callbacks (under the hotplug write lock) and cleared by the work
 * under cpus_read_lock(): the two never run at the same time.
 */
static struct cpumask hpnotify_online_pending;
static struct workqueue_struct *hpnotify_online_wq;

static void hpnotify_online_workfn(struct work_struct *work)
{
	unsigned int cpu;

	for_each_cpu(cpu, &hpnotify_online_pending) {
		/*
		 * Static per-CPU storage on every architecture with CPU
		 * hotplug: the device may be unregistered, never freed.
		 */
		struct device *dev = get_cpu_device(cpu);

		if (dev) {
			device_lock(dev);
			device_unlock(dev);
		}
	}

	cpus_read_lock();
	for_each_cpu(cpu, &hpnotify_online_pending) {
		if (cpumask_test_and_clear_cpu(cpu, &hpnotify_online_pending) &&
		    cpu_online(cpu))
			hpnotify_send_cpu_event(HPNOTIFY_EVENT_CPU_ONLINE, cpu);
	}
	cpus_read_unlock();
}

static DECLARE_WORK(hpnotify_online_work, hpnotify_online_workfn);

static int hpnotify_cpu_prepare_startup(unsigned int cpu)
{
	per_cpu(hpnotify_reached_online, cpu) = false;
	hpnotify_send_cpu_event(HPNOTIFY_EVENT_CPU_ADD_START, cpu);
	return 0;
}

static int hpnotify_cpu_prepare_teardown(unsigned int cpu)
{
	bool was_online = per_cpu(hpnotify_reached_online, cpu);

	per_cpu(hpnotify_reached_online, cpu) = false;
	hpnotify_send_cpu_event(was_online ? HPNOTIFY_EVENT_CPU_OFFLINE :
					     HPNOTIFY_EVENT_CPU_ADD_FAILED,
				cpu);
	return 0;
}

static int hpnotify_cpu_online_startup(unsigned int cpu)
{
	per_cpu(hpnotify_reached_online, cpu) = true;
	cpumask_set_cpu(cpu, &hpnotify_online_pending);
	queue_work(hpnotify_online_wq, &hpnotify_online_work);
	return 0;
}

static int hpnotify_cpu_online_teardown(unsigned int cpu)
{
	if (cpumask_test_and_clear_cpu(cpu, &hpnotify_online_pending))
		hpnotify_send_cpu_event(HPNOTIFY_EVENT_CPU_ONLINE, cpu);
	hpnotify_send_cpu_event(HPNOTIFY_EVENT_CPU_GOING_OFFLINE, cpu);
	return 0;
}

int hpnotify_cpuhp_init(void)
{
	unsigned int cpu;
	int ret;

	hpnotify_online_wq = alloc_ordered_workqueue("hpnotify", 0);
	if (!hpnotify_online_wq)
		return -ENOMEM;

	/*
	 * Under cpus_read_lock() no CPU changes state between seeding the
	 * flags and installing the callbacks: every CPU online now is past
	 * both our states, every other one is before both.
	 */
	cpus_read_lock();

	cpumask_clear(&hpnotify_online_pending);
	for_each_possible_cpu(cpu)
		per_cpu(hpnotify_reached_online, cpu) = cpu_online(cpu);
	hpnotify_events_set_cpus(cpu_online_mask);

	ret = cpuhp_setup_state_nocalls_cpuslocked(CPUHP_AP_ONLINE_DYN,
						   "hpnotify:online",
						   hpnotify_cpu_online_startup,
						   hpnotify_cpu_online_teardown);
	if (ret < 0)
		goto out_unlock;
	hpnotify_online_state = ret;

	/*
	 * Last, so that nothing here fails after it: see compat.h for why a
	 * 0 ("installed, number unknown") cannot be undone.
	 */
	ret = cpuhp_setup_state_nocalls_cpuslocked(CPUHP_BP_PREPARE_DYN,
						   "hpnotify:prepare",
						   hpnotify_cpu_prepare_startup,
						   hpnotify_cpu_prepare_teardown);
	if (ret < 0)
		goto out_remove_online;
	hpnotify_prepare_state = ret;
	if (hpnotify_prepare_state == HPNOTIFY_CPUHP_STATE_UNKNOWN) {
		pr_warn("kernel did not return the CPUHP_BP_PREPARE_DYN state; module pinned, rmmod disabled\n");
		__module_get(THIS_MODULE);
	}

	cpus_read_unlock();
	return 0;

out_remove_online:
	cpuhp_remove_state_nocalls_cpuslocked(hpnotify_online_state);
out_unlock:
	cpus_read_unlock();
	destroy_workqueue(hpnotify_online_wq);
	return ret;
}

void hpnotify_cpuhp_exit(void)
{
	cpus_read_lock();
	if (hpnotify_prepare_state != HPNOTIFY_CPUHP_STATE_UNKNOWN)
		cpuhp_remove_state_nocalls_cpuslocked(hpnotify_prepare_state);
	cpuhp_remove_state_nocalls_cpuslocked(hpnotify_online_state);
	cpus_read_unlock();

	/* Drains: a cpu_online still pending goes out before the family. */
	destroy_workqueue(hpnotify_online_wq);
}

/*
 * The cpu_subsys bus also carries devices that are not CPUs (cacheinfo's
 * "cache" devices, made by cpu_device_create()): only "cpu<id>" counts.
 */
static bool hpnotify_is_cpu_device(const struct device *dev)
{
	char name[16];

	if (dev->id >= nr_cpu_ids)
		return false;
	snprintf(name, sizeof(name), "cpu%u", dev->id);
	return !strcmp(dev_name(dev), name);
}

static int hpnotify_cpu_bus_notify(struct notifier_block *nb,
				   unsigned long action, void *data)
{
	struct device *dev = data;

	if (!hpnotify_is_cpu_device(dev))
		return NOTIFY_OK;

	switch (action) {
	case BUS_NOTIFY_ADD_DEVICE:
		hpnotify_send_cpu_event(HPNOTIFY_EVENT_CPU_ARRIVED, dev->id);
		break;
	case BUS_NOTIFY_REMOVED_DEVICE:
		hpnotify_send_cpu_event(HPNOTIFY_EVENT_CPU_REMOVED, dev->id);
		break;
	}
	return NOTIFY_OK;
}

static struct notifier_block hpnotify_cpu_bus_nb = {
	.notifier_call = hpnotify_cpu_bus_notify,
};

int hpnotify_cpu_bus_init(void)
{
	return bus_register_notifier(&cpu_subsys, &hpnotify_cpu_bus_nb);
}

void hpnotify_cpu_bus_exit(void)
{
	bus_unregister_notifier(&cpu_subsys, &hpnotify_cpu_bus_nb);
}
