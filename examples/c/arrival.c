/*
 * Processor and memory arrival in C, the Windows sample's two callbacks written
 * against hpplace.h: the KeRegisterProcessorChangeCallback callback starts a
 * per-processor thread on each new CPU and rebalances, the GUID_DEVICE_MEMORY
 * arrival handler grows a node's buffer. HPP_ADD_EXISTING is
 * KE_PROCESSOR_CHANGE_ADD_EXISTING: what is there already arrives first, so one
 * code path serves both.
 *
 *   hpplace-example-c-arrival [--socket PATH] [--share N] [--seconds N]
 *
 * C99; build: cc -std=c99 arrival.c $(pkg-config --cflags --libs hpplace)
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hpplace/hpplace.h>

#define MAX_CPUS 1024
#define MAX_NODES 64

/* What the callbacks keep: the CPUs with a thread and each node's memory. */
struct service {
	pthread_mutex_t mutex;
	hpp_pool *pool;
	hpp_buffers *buffers;
	uint64_t share;
	struct hpp_thread threads[MAX_CPUS];
	size_t thread_count;
	uint64_t node_memory[MAX_NODES];
};

/* The per-processor thread: works until the pool stops it. */
static void per_processor_thread(hpp_worker *worker, void *context)
{
	(void)context;
	printf("thread for CPU %u (node %u) started\n", hpp_worker_cpu(worker), hpp_worker_node(worker));
	fflush(stdout);
	while (!hpp_worker_wait(worker, 50))
		;
}

/* Prints the active set from the change's words, as a cpulist. */
static void print_active(const struct hpp_processor_change *change)
{
	const char *sep = "";
	size_t cpu;

	for (cpu = 0; cpu < change->active_mask_words * 64; cpu++) {
		if (change->active_mask[cpu / 64] & (UINT64_C(1) << (cpu % 64))) {
			printf("%s%zu", sep, cpu);
			sep = ",";
		}
	}
}

static void processor_change(const struct hpp_processor_change *change, void *context)
{
	struct service *s = context;
	struct hpp_assignment plan;
	struct hpp_pool_changes done;
	size_t i;
	int err;

	printf("processor %u (node %d): %s%s, %u active (", change->cpu, change->node,
	       hpp_processor_state_name(change->state),
	       change->flags & HPP_CHANGE_SYNTHESIZED ? " (existing)" : "", change->active_count);
	print_active(change);
	printf(") seq %" PRIu64 "\n", change->seq);
	fflush(stdout);

	pthread_mutex_lock(&s->mutex);
	for (i = 0; i < s->thread_count && s->threads[i].cpu != change->cpu; i++)
		;
	if (change->state == HPP_PROCESSOR_ADD_COMPLETE && i == s->thread_count && i < MAX_CPUS) {
		/* Threads are keyed by CPU number: applying again starts only the new one. */
		s->threads[s->thread_count].index = change->cpu;
		s->threads[s->thread_count].cpu = change->cpu;
		s->threads[s->thread_count].node = change->node < 0 ? 0 : (unsigned)change->node;
		s->thread_count++;
	} else if (change->state == HPP_PROCESSOR_GOING_OFFLINE || change->state == HPP_PROCESSOR_OFFLINE) {
		if (i == s->thread_count) {
			pthread_mutex_unlock(&s->mutex);
			return;
		}
		s->threads[i] = s->threads[--s->thread_count];
	} else {
		pthread_mutex_unlock(&s->mutex);
		return;
	}
	memset(&plan, 0, sizeof(plan));
	plan.struct_size = sizeof(plan);
	plan.threads = s->threads;
	plan.thread_count = s->thread_count;
	err = hpp_pool_apply(s->pool, &plan, &done);
	pthread_mutex_unlock(&s->mutex);
	if (err)
		fprintf(stderr, "hpp_pool_apply: %s\n", hpp_strerror(err));
	else
		printf("rebalanced: %zu started, %zu stopped, %zu retrying, %zu errors\n", done.started,
		       done.stopped, done.retrying, done.errors);
	fflush(stdout);
}

static void memory_change(const struct hpp_memory_change *change, void *context)
{
	struct service *s = context;
	uint64_t *memory;
	int err;

	if (change->node < 0 || change->node >= MAX_NODES)
		return;
	pthread_mutex_lock(&s->mutex);
	memory = &s->node_memory[change->node];
	if (change->state == HPP_MEMORY_ONLINE) {
		*memory += change->size;
	} else if (change->state == HPP_MEMORY_OFFLINE) {
		*memory -= change->size < *memory ? change->size : *memory;
	} else {
		pthread_mutex_unlock(&s->mutex);
		return;
	}
	err = hpp_buffers_resize(s->buffers, (unsigned)change->node, *memory / s->share);
	printf("memory %s on node %d: %" PRIu64 " MiB at 0x%" PRIx64 "%s; buffer target %" PRIu64 " MiB\n",
	       hpp_memory_state_name(change->state), change->node, change->size >> 20, change->start,
	       change->flags & HPP_CHANGE_SYNTHESIZED ? " (existing)" : "", (*memory / s->share) >> 20);
	pthread_mutex_unlock(&s->mutex);
	if (err)
		fprintf(stderr, "hpp_buffers_resize: %s\n", hpp_strerror(err));
	fflush(stdout);
}

static int usage(const char *name)
{
	fprintf(stderr, "usage: %s [--socket PATH] [--share N] [--seconds N]\n", name);
	return 2;
}

int main(int argc, char **argv)
{
	static struct service s;
	const char *socket_path = NULL; /* the default socket */
	hpp_registration *cpu_reg = NULL, *mem_reg = NULL;
	hpp_client *client;
	long seconds = 0; /* 0: until killed */
	struct timespec tick = {0, 100 * 1000 * 1000};
	long ticks;
	int i, err;

	s.share = 64;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc)
			socket_path = argv[++i];
		else if (!strcmp(argv[i], "--share") && i + 1 < argc)
			s.share = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = strtol(argv[++i], NULL, 10);
		else
			return usage(argv[0]);
	}
	if (!s.share)
		return usage(argv[0]);

	pthread_mutex_init(&s.mutex, NULL);
	s.pool = hpp_pool_new(per_processor_thread, &s, NULL, &err);
	if (!s.pool) {
		fprintf(stderr, "hpp_pool_new: %s\n", hpp_strerror(err));
		return 1;
	}
	s.buffers = hpp_buffers_new(NULL, &err);
	if (!s.buffers) {
		fprintf(stderr, "hpp_buffers_new: %s\n", hpp_strerror(err));
		return 1;
	}
	printf("%u active processors\n", hpp_active_processor_count(NULL, 0));

	client = hpp_open(socket_path, &err);
	if (!client) {
		fprintf(stderr, "hpp_open: %s\n", hpp_strerror(err));
		return 1;
	}
	err = hpp_register_processor_callback(client, processor_change, &s, HPP_ADD_EXISTING, &cpu_reg);
	if (!err)
		err = hpp_register_memory_callback(client, memory_change, &s, HPP_ADD_EXISTING, &mem_reg);
	if (err) {
		fprintf(stderr, "hpp_register_*_callback: %s\n", hpp_strerror(err));
		hpp_close(client);
		return 1;
	}

	for (ticks = 0; seconds == 0 || ticks < seconds * 10; ticks++)
		nanosleep(&tick, NULL);

	/* After hpp_unregister no callback runs: the pool and buffers can go. */
	hpp_unregister(cpu_reg);
	hpp_unregister(mem_reg);
	hpp_close(client);
	hpp_pool_free(s.pool);
	hpp_buffers_free(s.buffers);
	pthread_mutex_destroy(&s.mutex);
	return 0;
}
