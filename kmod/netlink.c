// SPDX-License-Identifier: GPL-2.0
/*
 * The "hpnotify" generic netlink family: event notifications on the "events"
 * group (one send path, hpnotify_send_event()), the GET_STATE dump (the
 * machine's side of it from state.c) and the GET_STATS request.
 */
#include <linux/atomic.h>
#include <linux/bitmap.h>
#include <linux/cpumask.h>
#include <linux/ktime.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/topology.h>
#include <net/genetlink.h>
#include <net/netlink.h>

#include "compat.h"
#include "netlink.h"
#include "state.h"

/* Multicast groups, by index in the family's mcgrps array. */
enum hpnotify_multicast_group {
	HPNOTIFY_NLGRP_EVENTS,
};

static struct genl_family hpnotify_genl_family;

/*
 * Sequence number of the last event, +1 per event even when nobody listens:
 * a gap seen by a listener means it lost events.
 */
static atomic64_t hpnotify_last_seq;
static atomic64_t hpnotify_sent[__HPNOTIFY_EVENT_MAX];
static atomic64_t hpnotify_send_failures;
static atomic64_t hpnotify_no_listener;

/*
 * The active CPUs every event carries: the online CPUs whose cpu_online was
 * sent, minus those whose cpu_offline was. It differs from cpu_online_mask
 * while a cpu_online is deferred (cpu.c), so that no event shows a CPU as
 * usable before its cpu_online does. Under hpnotify_event_lock.
 */
static struct cpumask hpnotify_event_cpus;

/*
 * Serialises "assign seq, build, multicast" so that events leave in
 * sequence order. Every caller runs in sleepable process context: cpuhp
 * prepare callbacks on the control CPU, online callbacks in the AP's cpuhp
 * thread, bus/memory/node notifiers on blocking notifier chains.
 */
static DEFINE_MUTEX(hpnotify_event_lock);

void hpnotify_events_init(void)
{
	int i;

	atomic64_set(&hpnotify_last_seq, 0);
	atomic64_set(&hpnotify_send_failures, 0);
	atomic64_set(&hpnotify_no_listener, 0);
	for (i = 0; i < ARRAY_SIZE(hpnotify_sent); i++)
		atomic64_set(&hpnotify_sent[i], 0);
}

/* Called by cpu.c under cpus_read_lock(), before its hotplug callbacks exist. */
void hpnotify_events_set_cpus(const struct cpumask *online)
{
	mutex_lock(&hpnotify_event_lock);
	cpumask_copy(&hpnotify_event_cpus, online);
	mutex_unlock(&hpnotify_event_lock);
}

/* Size in bytes of a CPU bitmap attribute: u64 words covering nr_cpu_ids. */
static size_t hpnotify_cpu_bitmap_bytes(void)
{
	return DIV_ROUND_UP(nr_cpu_ids, 64) * sizeof(u64);
}

static int hpnotify_put_cpu_bitmap(struct sk_buff *msg, int attrtype,
				   const struct cpumask *mask, int padattr)
{
	struct nlattr *attr;

	attr = nla_reserve_64bit(msg, attrtype, hpnotify_cpu_bitmap_bytes(),
				 padattr);
	if (!attr)
		return -EMSGSIZE;
	bitmap_to_arr64(nla_data(attr), cpumask_bits(mask), nr_cpu_ids);
	return 0;
}

/* -------------------------------------------------------------------------
 * Event encoding
 */

struct hpnotify_event_header {
	u64 seq;
	u64 timestamp;
	enum hpnotify_event_type type;
};

/* Attributes every event carries: seq, timestamp, type, online CPUs. */
static size_t hpnotify_event_common_size(void)
{
	return nla_total_size_64bit(sizeof(u64)) +	/* SEQ */
	       nla_total_size_64bit(sizeof(u64)) +	/* TIMESTAMP */
	       nla_total_size(sizeof(u32)) +		/* TYPE */
	       nla_total_size(sizeof(u32)) +		/* ONLINE_CPUS */
	       nla_total_size_64bit(hpnotify_cpu_bitmap_bytes()); /* ONLINE_MASK */
}

/*
 * Called with hpnotify_event_lock held. Assigns the next sequence number and
 * the timestamp; returns false (counted) when nobody listens, so the caller
 * builds nothing.
 */
static bool hpnotify_event_begin(struct hpnotify_event_header *ev,
				 enum hpnotify_event_type type)
{
	lockdep_assert_held(&hpnotify_event_lock);

	ev->seq = atomic64_inc_return(&hpnotify_last_seq);
	ev->timestamp = ktime_get_boottime_ns();
	ev->type = type;

	if (!genl_has_listeners(&hpnotify_genl_family, &init_net,
				HPNOTIFY_NLGRP_EVENTS)) {
		atomic64_inc(&hpnotify_no_listener);
		return false;
	}
	return true;
}

static void *hpnotify_event_put_header(struct sk_buff *msg,
				       const struct hpnotify_event_header *ev)
{
	void *hdr;

	hdr = genlmsg_put(msg, 0, 0, &hpnotify_genl_family, 0,
			  HPNOTIFY_CMD_EVENT);
	if (!hdr)
		return NULL;

	if (nla_put_u64_64bit(msg, HPNOTIFY_A_EVENT_SEQ, ev->seq,
			      HPNOTIFY_A_EVENT_PAD) ||
	    nla_put_u64_64bit(msg, HPNOTIFY_A_EVENT_TIMESTAMP, ev->timestamp,
			      HPNOTIFY_A_EVENT_PAD) ||
	    nla_put_u32(msg, HPNOTIFY_A_EVENT_TYPE, ev->type) ||
	    nla_put_u32(msg, HPNOTIFY_A_EVENT_ONLINE_CPUS,
			cpumask_weight(&hpnotify_event_cpus)) ||
	    hpnotify_put_cpu_bitmap(msg, HPNOTIFY_A_EVENT_ONLINE_MASK,
				    &hpnotify_event_cpus, HPNOTIFY_A_EVENT_PAD)) {
		genlmsg_cancel(msg, hdr);
		return NULL;
	}
	return hdr;
}

/*
 * Ends the message and multicasts it; consumes @msg.
 *
 * netlink_broadcast() says -ESRCH both when the last listener left after
 * hpnotify_event_begin() (no loss) and when every listener's receive queue
 * was full (each of them lost the event and sees ENOBUFS). Only the group's
 * membership tells them apart: with listeners still there, it is a failure.
 * Listeners that set NETLINK_BROADCAST_ERROR turn the latter into -ENOBUFS.
 */
static void hpnotify_event_multicast(struct sk_buff *msg, void *hdr,
				     enum hpnotify_event_type type)
{
	int ret;

	genlmsg_end(msg, hdr);
	ret = genlmsg_multicast(&hpnotify_genl_family, msg, 0,
				HPNOTIFY_NLGRP_EVENTS, GFP_KERNEL);
	if (!ret)
		atomic64_inc(&hpnotify_sent[type]);
	else if (ret == -ESRCH &&
		 !genl_has_listeners(&hpnotify_genl_family, &init_net,
				     HPNOTIFY_NLGRP_EVENTS))
		atomic64_inc(&hpnotify_no_listener);
	else
		atomic64_inc(&hpnotify_send_failures);
}

/* Exact size of @ev's message payload: the common attributes and its own. */
static size_t hpnotify_event_size(const struct hpnotify_event *ev)
{
	size_t size = hpnotify_event_common_size();

	if (ev->has_cpu)
		size += nla_total_size(sizeof(u32));		/* CPU */
	if (ev->nid != NUMA_NO_NODE)
		size += nla_total_size(sizeof(u32));		/* NODE */
	if (ev->has_range)
		size += 2 * nla_total_size_64bit(sizeof(u64));	/* MEM_START, MEM_SIZE */
	return size;
}

static int hpnotify_event_put_fields(struct sk_buff *msg,
				     const struct hpnotify_event *ev)
{
	/* In the order the attributes always had: CPU, range, node. */
	if (ev->has_cpu && nla_put_u32(msg, HPNOTIFY_A_EVENT_CPU, ev->cpu))
		return -EMSGSIZE;
	if (ev->has_range &&
	    (nla_put_u64_64bit(msg, HPNOTIFY_A_EVENT_MEM_START, ev->start,
			       HPNOTIFY_A_EVENT_PAD) ||
	     nla_put_u64_64bit(msg, HPNOTIFY_A_EVENT_MEM_SIZE, ev->size,
			       HPNOTIFY_A_EVENT_PAD)))
		return -EMSGSIZE;
	if (ev->nid != NUMA_NO_NODE &&
	    nla_put_u32(msg, HPNOTIFY_A_EVENT_NODE, ev->nid))
		return -EMSGSIZE;
	return 0;
}

/* The active CPUs after a CPU event, under hpnotify_event_lock. */
static void hpnotify_event_update_cpus(const struct hpnotify_event *ev)
{
	lockdep_assert_held(&hpnotify_event_lock);

	if (ev->type == HPNOTIFY_EVENT_CPU_ONLINE)
		cpumask_set_cpu(ev->cpu, &hpnotify_event_cpus);
	else if (ev->type == HPNOTIFY_EVENT_CPU_OFFLINE ||
		 ev->type == HPNOTIFY_EVENT_CPU_ADD_FAILED)
		cpumask_clear_cpu(ev->cpu, &hpnotify_event_cpus);
}

/*
 * The one send path. It never fails its caller: a hotplug operation goes on
 * whatever happens here, and every failure is counted in send_failures.
 *
 * GFP_KERNEL: all callers may sleep (see hpnotify_event_lock). The messages
 * are small order-0 allocations, which reclaim satisfies without waiting on
 * the hotplug locks our callers hold; GFP_NOWAIT would drop events exactly
 * when memory is tight, e.g. while memory goes offline.
 */
void hpnotify_send_event(const struct hpnotify_event *ev)
{
	struct hpnotify_event_header header;
	struct sk_buff *msg;
	void *hdr;

	mutex_lock(&hpnotify_event_lock);
	/* Even when nobody listens: the next listener's events must be right. */
	hpnotify_event_update_cpus(ev);

	if (!hpnotify_event_begin(&header, ev->type))
		goto out_unlock;

	msg = genlmsg_new(hpnotify_event_size(ev), GFP_KERNEL);
	if (!msg)
		goto out_fail;

	hdr = hpnotify_event_put_header(msg, &header);
	if (!hdr)
		goto out_free_msg;

	if (hpnotify_event_put_fields(msg, ev))
		goto out_cancel_msg;

	hpnotify_event_multicast(msg, hdr, ev->type);
	goto out_unlock;

out_cancel_msg:
	genlmsg_cancel(msg, hdr);
out_free_msg:
	nlmsg_free(msg);
out_fail:
	atomic64_inc(&hpnotify_send_failures);
out_unlock:
	mutex_unlock(&hpnotify_event_lock);
}

/* -------------------------------------------------------------------------
 * Command encoding
 */

/*
 * GET_STATE dump consistency: cb->seq follows the event sequence number
 * (+1 so that the state before any event is not 0, which netlink reads as
 * "not set") and genl_dump_check_consistent() flags NLM_F_DUMP_INTR on the
 * first message, or NLMSG_DONE, built after an event.
 */
static unsigned int hpnotify_dump_seq(u64 seq)
{
	return lower_32_bits(seq + 1);
}

/* cb->args[0]: 0 before the first message, then 1 + next node id. */
#define HPNOTIFY_DUMP_POS(cb)	((cb)->args[0])

static int hpnotify_fill_state_global(struct sk_buff *skb,
				      struct netlink_callback *cb)
{
	u64 seq = atomic64_read(&hpnotify_last_seq);
	void *hdr;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &hpnotify_genl_family, NLM_F_MULTI,
			  HPNOTIFY_CMD_GET_STATE);
	if (!hdr)
		return -EMSGSIZE;

	if (nla_put_u64_64bit(skb, HPNOTIFY_A_STATE_LAST_SEQ, seq,
			      HPNOTIFY_A_STATE_PAD) ||
	    nla_put_u32(skb, HPNOTIFY_A_STATE_NR_CPU_IDS, nr_cpu_ids) ||
	    hpnotify_put_cpu_bitmap(skb, HPNOTIFY_A_STATE_POSSIBLE_CPUS,
				    cpu_possible_mask, HPNOTIFY_A_STATE_PAD) ||
	    hpnotify_put_cpu_bitmap(skb, HPNOTIFY_A_STATE_PRESENT_CPUS,
				    cpu_present_mask, HPNOTIFY_A_STATE_PAD) ||
	    hpnotify_put_cpu_bitmap(skb, HPNOTIFY_A_STATE_ONLINE_CPUS,
				    cpu_online_mask, HPNOTIFY_A_STATE_PAD)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}

	cb->seq = hpnotify_dump_seq(seq);
	genl_dump_check_consistent(cb, hdr);
	genlmsg_end(skb, hdr);
	return 0;
}

static int hpnotify_put_node_cpus(struct sk_buff *skb, int nid)
{
	struct nlattr *attr;
	unsigned int cpu;
	u64 *words;

	attr = nla_reserve_64bit(skb, HPNOTIFY_A_NODE_CPUS,
				 hpnotify_cpu_bitmap_bytes(),
				 HPNOTIFY_A_NODE_PAD);
	if (!attr)
		return -EMSGSIZE;

	words = nla_data(attr);
	memset(words, 0, hpnotify_cpu_bitmap_bytes());
	for_each_present_cpu(cpu) {
		if (cpu_to_node(cpu) == nid)
			words[cpu / 64] |= BIT_ULL(cpu % 64);
	}
	return 0;
}

/* Returns 0 when the node has neither CPUs nor memory (no message). */
static int hpnotify_fill_state_node(struct sk_buff *skb,
				    struct netlink_callback *cb, int nid)
{
	u64 mem_bytes = hpnotify_node_online_memory_bytes(nid);
	struct nlattr *nest;
	void *hdr;

	if (!mem_bytes && !hpnotify_node_has_present_cpus(nid))
		return 0;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &hpnotify_genl_family, NLM_F_MULTI,
			  HPNOTIFY_CMD_GET_STATE);
	if (!hdr)
		return -EMSGSIZE;

	nest = nla_nest_start(skb, HPNOTIFY_A_STATE_NODE);
	if (!nest)
		goto out_cancel;

	if (nla_put_u32(skb, HPNOTIFY_A_NODE_ID, nid) ||
	    nla_put_u64_64bit(skb, HPNOTIFY_A_NODE_MEM_BYTES, mem_bytes,
			      HPNOTIFY_A_NODE_PAD) ||
	    hpnotify_put_node_cpus(skb, nid))
		goto out_cancel;

	nla_nest_end(skb, nest);

	cb->seq = hpnotify_dump_seq(atomic64_read(&hpnotify_last_seq));
	genl_dump_check_consistent(cb, hdr);
	genlmsg_end(skb, hdr);
	return 0;

out_cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

static int hpnotify_get_state_dumpit(struct sk_buff *skb,
				     struct netlink_callback *cb)
{
	int nid;
	int err;

	/* Seen by the NLMSG_DONE check when this call adds no message. */
	cb->seq = hpnotify_dump_seq(atomic64_read(&hpnotify_last_seq));

	if (HPNOTIFY_DUMP_POS(cb) == 0) {
		err = hpnotify_fill_state_global(skb, cb);
		if (err)
			return err;
		HPNOTIFY_DUMP_POS(cb) = 1;
	}

	for (nid = HPNOTIFY_DUMP_POS(cb) - 1; nid < nr_node_ids; nid++) {
		if (!node_possible(nid))
			continue;
		err = hpnotify_fill_state_node(skb, cb, nid);
		if (err)
			break;
		HPNOTIFY_DUMP_POS(cb) = nid + 2;
	}

	/* A node message that did not fit goes into the next skb. */
	return skb->len;
}

static size_t hpnotify_stats_size(void)
{
	return nla_total_size_64bit(sizeof(u64)) +	/* LAST_SEQ */
	       nla_total_size(0) +			/* SENT nest */
	       HPNOTIFY_EVENT_MAX * nla_total_size_64bit(sizeof(u64)) +
	       nla_total_size_64bit(sizeof(u64)) +	/* SEND_FAILURES */
	       nla_total_size_64bit(sizeof(u64)) +	/* NO_LISTENER */
	       nla_total_size(sizeof(u32));		/* LISTENERS */
}

/*
 * Inside the SENT nest the attribute type is the event type, so the nest has
 * no pad attribute of its own: padding (only on architectures without
 * efficient unaligned access) uses type 0, which is never an event type.
 */
#define HPNOTIFY_A_STATS_SENT_PAD	0

static int hpnotify_put_sent(struct sk_buff *msg)
{
	struct nlattr *nest;
	int type;

	nest = nla_nest_start(msg, HPNOTIFY_A_STATS_SENT);
	if (!nest)
		return -EMSGSIZE;

	for (type = 1; type <= HPNOTIFY_EVENT_MAX; type++) {
		if (nla_put_u64_64bit(msg, type,
				      atomic64_read(&hpnotify_sent[type]),
				      HPNOTIFY_A_STATS_SENT_PAD)) {
			nla_nest_cancel(msg, nest);
			return -EMSGSIZE;
		}
	}
	nla_nest_end(msg, nest);
	return 0;
}

static int hpnotify_get_stats_doit(struct sk_buff *skb, struct genl_info *info)
{
	bool listeners = genl_has_listeners(&hpnotify_genl_family, &init_net,
					    HPNOTIFY_NLGRP_EVENTS) > 0;
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(hpnotify_stats_size(), GFP_KERNEL);
	if (!msg)
		return -ENOMEM;

	hdr = genlmsg_put_reply(msg, info, &hpnotify_genl_family, 0,
				HPNOTIFY_CMD_GET_STATS);
	if (!hdr)
		goto out_free_msg;

	if (nla_put_u64_64bit(msg, HPNOTIFY_A_STATS_LAST_SEQ,
			      atomic64_read(&hpnotify_last_seq),
			      HPNOTIFY_A_STATS_PAD) ||
	    hpnotify_put_sent(msg) ||
	    nla_put_u64_64bit(msg, HPNOTIFY_A_STATS_SEND_FAILURES,
			      atomic64_read(&hpnotify_send_failures),
			      HPNOTIFY_A_STATS_PAD) ||
	    nla_put_u64_64bit(msg, HPNOTIFY_A_STATS_NO_LISTENER,
			      atomic64_read(&hpnotify_no_listener),
			      HPNOTIFY_A_STATS_PAD) ||
	    nla_put_u32(msg, HPNOTIFY_A_STATS_LISTENERS, listeners))
		goto out_cancel_msg;

	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

out_cancel_msg:
	genlmsg_cancel(msg, hdr);
out_free_msg:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/* -------------------------------------------------------------------------
 * Init
 */

static const struct genl_small_ops hpnotify_genl_ops[] = {
	{
		.cmd	= HPNOTIFY_CMD_GET_STATE,
		.dumpit	= hpnotify_get_state_dumpit,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= HPNOTIFY_CMD_GET_STATS,
		.doit	= hpnotify_get_stats_doit,
		.flags	= GENL_ADMIN_PERM,
	},
};

static const struct genl_multicast_group hpnotify_genl_mcgrps[] = {
	[HPNOTIFY_NLGRP_EVENTS] = {
		.name = HPNOTIFY_MCGRP_EVENTS,
		HPNOTIFY_MCGRP_PERM
	},
};

static struct genl_family hpnotify_genl_family __ro_after_init = {
	.name		= HPNOTIFY_FAMILY_NAME,
	.version	= HPNOTIFY_FAMILY_VERSION,
	.module		= THIS_MODULE,
	.small_ops	= hpnotify_genl_ops,
	.n_small_ops	= ARRAY_SIZE(hpnotify_genl_ops),
	.mcgrps		= hpnotify_genl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(hpnotify_genl_mcgrps),
	HPNOTIFY_GENL_RESV_START_OP
};

int hpnotify_netlink_init(void)
{
	return genl_register_family(&hpnotify_genl_family);
}

void hpnotify_netlink_exit(void)
{
	genl_unregister_family(&hpnotify_genl_family);
}
