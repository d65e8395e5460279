// SPDX-License-Identifier: GPL-2.0
/*
 * hpnotify: CPU and memory hotplug events over the "hpnotify" generic
 * netlink family.
 *
 * Init order: state first, then the family, then the hooks that emit on it;
 * exit undoes it in exact reverse. Unregistering a hook waits for its
 * callbacks in flight (cpuhp removal takes the hotplug lock, notifier chain
 * unregistration takes the chain's rwsem), so no event is sent on a family
 * that is going away.
 */
#include <linux/init.h>
#include <linux/module.h>

#include "compat.h"
#include "cpu.h"
#include "memory.h"
#include "netlink.h"

static int __init hpnotify_init(void)
{
	int ret;

	hpnotify_events_init();

	ret = hpnotify_netlink_init();
	if (ret < 0) {
		pr_err("cannot register the generic netlink family: %d\n", ret);
		goto err_netlink;
	}

	ret = hpnotify_cpuhp_init();
	if (ret < 0) {
		pr_err("cannot set up the CPU hotplug states: %d\n", ret);
		goto err_cpuhp;
	}

	ret = hpnotify_cpu_bus_init();
	if (ret < 0) {
		pr_err("cannot register the cpu bus notifier: %d\n", ret);
		goto err_cpu_bus;
	}

	ret = hpnotify_memory_init();
	if (ret < 0) {
		pr_err("cannot register the memory notifier: %d\n", ret);
		goto err_memory;
	}

	ret = hpnotify_node_init();
	if (ret < 0) {
		pr_err("cannot register the node notifier: %d\n", ret);
		goto err_node;
	}

	pr_info("loaded: generic netlink family \"%s\" version %d, group \"%s\"\n",
		HPNOTIFY_FAMILY_NAME, HPNOTIFY_FAMILY_VERSION,
		HPNOTIFY_MCGRP_EVENTS);
	return 0;

err_node:
	hpnotify_memory_exit();
err_memory:
	hpnotify_cpu_bus_exit();
err_cpu_bus:
	hpnotify_cpuhp_exit();
err_cpuhp:
	hpnotify_netlink_exit();
err_netlink:
	return ret;
}

static void __exit hpnotify_exit(void)
{
	hpnotify_node_exit();
	hpnotify_memory_exit();
	hpnotify_cpu_bus_exit();
	hpnotify_cpuhp_exit();
	hpnotify_netlink_exit();
	pr_info("unloaded\n");
}

module_init(hpnotify_init);
module_exit(hpnotify_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("CPU and memory hotplug notifications over generic netlink");
MODULE_ALIAS_GENL_FAMILY(HPNOTIFY_FAMILY_NAME);
