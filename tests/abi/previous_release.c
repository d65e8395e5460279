/*
 * A program of the first release: built against that release's hpplace.h
 * (tests/abi/release-1/), linked and run against the current libhpplace.so. It
 * uses every kind of call with the old structs' sizes and checks the answers
 * that need no daemon. Prints "previous release: ok".
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <hpplace/hpplace.h>

static int failures;

#define EXPECT(cond)                                                         \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "previous release: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                          \
		}                                                            \
	} while (0)

static void on_cpu(const struct hpp_processor_change *change, void *context)
{
	(void)change;
	(void)context;
}

static void on_memory(const struct hpp_memory_change *change, void *context)
{
	(void)change;
	(void)context;
}

static void worker(hpp_worker *me, void *context)
{
	(void)context;
	while (!hpp_worker_wait(me, 100))
		;
}

static void quiet(const char *line, void *context)
{
	(void)line;
	(void)context;
}

int main(void)
{
	struct hpp_options options;
	struct hpp_workload workload;
	struct hpp_pool_changes changes;
	struct hpp_assignment assignment;
	hpp_registration *cpu_reg = NULL, *mem_reg = NULL;
	hpp_client *client;
	hpp_pool *pool;
	hpp_buffers *buffers;
	hpp_chunks *chunks = NULL;
	uint64_t mask[16];
	unsigned count;
	int err = 1;

	memset(&workload, 0, sizeof(workload));
	workload.struct_size = sizeof(workload);
	workload.name = "previous-release";
	memset(&options, 0, sizeof(options));
	options.struct_size = sizeof(options);
	options.socket_path = "/nonexistent/hpplaced.sock";
	options.workload = &workload;
	options.log = quiet;
	client = hpp_open_with(&options, &err);
	EXPECT(client != NULL && err == 0);
	if (!client)
		return 1;
	EXPECT(hpp_register_processor_callback(client, on_cpu, NULL, HPP_ADD_EXISTING, &cpu_reg) == 0);
	EXPECT(hpp_register_memory_callback(client, on_memory, NULL, HPP_ADD_EXISTING, &mem_reg) == 0);
	EXPECT(hpp_register_processor_callback(client, on_cpu, NULL, 0x80, &cpu_reg) == -EINVAL);
	EXPECT(hpp_connected(client) == 0);
	EXPECT(hpp_wait_connected(client, 10) == -ETIMEDOUT);
	EXPECT(hpp_unregister(cpu_reg) == 0);
	hpp_close(client); /* frees mem_reg */

	count = hpp_active_processor_count(mask, 16);
	EXPECT(count > 0 && count == hpp_active_processor_count(NULL, 0));
	EXPECT(strcmp(hpp_strerror(-EINVAL), "Invalid argument") == 0);
	EXPECT(strcmp(hpp_processor_state_name(HPP_PROCESSOR_ADD_COMPLETE), "add_complete") == 0);
	EXPECT(strcmp(hpp_memory_state_name(HPP_MEMORY_ONLINE), "online") == 0);

	pool = hpp_pool_new(worker, NULL, NULL, &err);
	EXPECT(pool != NULL && err == 0);
	memset(&assignment, 0, sizeof(assignment));
	assignment.struct_size = sizeof(assignment);
	EXPECT(hpp_pool_apply(pool, &assignment, &changes) == 0);
	EXPECT(changes.struct_size >= sizeof(changes) && changes.started == 0 && changes.errors == 0);
	EXPECT(hpp_pool_threads(pool, NULL, 0) == 0);
	hpp_pool_free(pool);

	buffers = hpp_buffers_new(NULL, &err);
	EXPECT(buffers != NULL && err == 0);
	EXPECT(hpp_buffers_resize(buffers, 0, 1 << 20) == 0);
	EXPECT(hpp_buffers_wait_ready(buffers, 10000) == 0);
	EXPECT(hpp_buffers_ready_bytes(buffers, 0) == 1 << 20);
	EXPECT(hpp_buffers_chunks(buffers, 0, &chunks) == 0);
	EXPECT(hpp_chunks_count(chunks) > 0 && hpp_chunks_at(chunks, 0)->size > 0);
	hpp_chunks_release(chunks);
	hpp_buffers_free(buffers);

	if (failures)
		return 1;
	printf("previous release: ok\n");
	return 0;
}
