// SPDX-License-Identifier: GPL-2.0
/*
 * TEST ONLY. Makes CPU <cpu> fail to come online, so that hpnotify reports
 * cpu_add_start then cpu_add_failed.
 *
 * Its CPUHP_AP_ONLINE_DYN state is allocated before hpnotify's when this
 * module is loaded first, so it gets a lower state number and its startup
 * runs before hpnotify's online startup. Returning -EIO makes the hotplug
 * core roll the CPU back to offline: hpnotify's online startup never runs,
 * its prepare teardown does.
 */
#include <linux/cpuhotplug.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static int cpu = -1;
module_param(cpu, int, 0444);
MODULE_PARM_DESC(cpu, "CPU whose online fails with -EIO (-1: none)");

static int failonline_state;

static int failonline_startup(unsigned int this_cpu)
{
	return this_cpu == cpu ? -EIO : 0;
}

static int __init failonline_init(void)
{
	int ret;

	ret = cpuhp_setup_state_nocalls(CPUHP_AP_ONLINE_DYN,
					"hpnotify_test:failonline",
					failonline_startup, NULL);
	if (ret < 0)
		return ret;
	failonline_state = ret;
	pr_info("CPU %d will fail to come online (state %d)\n", cpu,
		failonline_state);
	return 0;
}

static void __exit failonline_exit(void)
{
	cpuhp_remove_state_nocalls(failonline_state);
}

module_init(failonline_init);
module_exit(failonline_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("hpnotify test only: fail one CPU's online step");
