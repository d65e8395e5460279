/*
 * libhpplace's C API: the Windows processor and memory change callbacks
 * (KeRegisterProcessorChangeCallback, GUID_DEVICE_MEMORY arrival,
 * KeQueryActiveProcessorCount) on Linux, plus the worker pool and the node
 * buffers of the C++ API. C99 and C++ (any standard); the same libhpplace.so as
 * the C++ API: `pkg-config --cflags --libs hpplace`.
 *
 *     static void on_cpu(const struct hpp_processor_change *c, void *ctx)
 *     {
 *         if (c->state == HPP_PROCESSOR_ADD_COMPLETE)
 *             start_thread_on(c->cpu);
 *     }
 *     int err;
 *     hpp_client *client = hpp_open(NULL, &err);
 *     hpp_registration *reg;
 *     hpp_register_processor_callback(client, on_cpu, NULL, HPP_ADD_EXISTING, &reg);
 *     ...
 *     hpp_unregister(reg);
 *     hpp_close(client);
 *
 * Errors: functions returning int return 0 or a negative errno value
 * (hpp_strerror() names it); functions returning a pointer return NULL and store
 * the negative errno value in *error when error is not NULL. Nothing here throws
 * or aborts. Bad arguments (a NULL handle, an unknown flag) are -EINVAL.
 *
 * Threads: callbacks run one at a time on a thread of the library (one per
 * client), never on the thread that reads the daemon's socket, so a slow callback
 * delays only later callbacks of the same client.
 *
 * ABI rules (README, "libhpplace's ABI"): the soname is libhpplace.so.1 and the
 * functions below are in the symbol version HPPLACE_1. Functions are only ever
 * added (in a new version node); a struct only ever grows at its end. Every
 * growable struct starts with struct_size:
 *   - structs the library fills (hpp_processor_change, hpp_memory_change,
 *     hpp_assignment, hpp_pool_changes): struct_size is the size the library
 *     filled; a member is there when HPP_HAS_MEMBER(p, type, member) is true;
 *   - structs the caller fills (hpp_options, hpp_workload, hpp_pool_options,
 *     hpp_buffers_options): set struct_size = sizeof(struct ...) as compiled, and
 *     zero the rest (the library reads no member past struct_size and treats 0
 *     as "default").
 * Array elements (hpp_thread, hpp_buffer, hpp_chunk) never change; their
 * reserved members are 0.
 */
#ifndef HPPLACE_HPPLACE_H
#define HPPLACE_HPPLACE_H

#include <stddef.h>
#include <stdint.h>

#if defined(HPPLACE_BUILDING_LIBRARY)
#define HPP_EXPORT __attribute__((visibility("default")))
#else
#define HPP_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The daemon's default control socket (hpplaced --socket). */
#define HPP_DEFAULT_SOCKET "/run/hpplaced.sock"

/* Whether the library filled member m of *p (a struct starting with struct_size). */
#define HPP_HAS_MEMBER(p, type, m) ((p)->struct_size >= offsetof(type, m) + sizeof(((type *)0)->m))

typedef struct hpp_client hpp_client;
typedef struct hpp_registration hpp_registration;

/* Flags of the hpp_register_*_callback() functions. */
/* KE_PROCESSOR_CHANGE_ADD_EXISTING: report what exists first (HPP_PROCESSOR_ADD_COMPLETE
 * for every active CPU; HPP_MEMORY_ONLINE once per node with memory; the current
 * assignment), then the changes. */
#define HPP_ADD_EXISTING 0x1u

/* hpp_*_change.flags */
/* Not an event of the daemon: replayed by HPP_ADD_EXISTING, or found at a resync
 * after a reconnect (seq and time_ns are then 0). */
#define HPP_CHANGE_SYNTHESIZED 0x1u

/* KE_PROCESSOR_CHANGE_NOTIFY_STATE's values, then the Linux hot-remove ones. */
enum hpp_processor_state {
	HPP_PROCESSOR_ADD_START = 0,      /* KeProcessorAddStartNotify (cpu_add_start) */
	HPP_PROCESSOR_ADD_COMPLETE = 1,   /* KeProcessorAddCompleteNotify: the CPU runs tasks (cpu_online) */
	HPP_PROCESSOR_ADD_FAILED = 2,     /* KeProcessorAddFailureNotify (cpu_add_failed) */
	HPP_PROCESSOR_GOING_OFFLINE = 3,  /* the CPU is leaving (cpu_going_offline) */
	HPP_PROCESSOR_OFFLINE = 4,        /* the CPU is down (cpu_offline) */
	HPP_PROCESSOR_REMOVED = 5         /* the CPU device is gone (cpu_removed) */
};

enum hpp_memory_state {
	HPP_MEMORY_GOING_ONLINE = 0,
	HPP_MEMORY_ONLINE = 1,  /* GUID_DEVICE_MEMORY arrival (mem_online) */
	HPP_MEMORY_ONLINE_CANCELED = 2,
	HPP_MEMORY_GOING_OFFLINE = 3,
	HPP_MEMORY_OFFLINE = 4,
	HPP_MEMORY_OFFLINE_CANCELED = 5
};

struct hpp_processor_change {
	size_t struct_size;
	enum hpp_processor_state state;
	unsigned cpu;
	int node;               /* NUMA node of the CPU; -1 when unknown */
	unsigned active_count;  /* KeQueryActiveProcessorCount after the change */
	/* The active CPUs after the change: bit (n % 64) of word n / 64 is CPU n.
	 * Valid during the call only. */
	const uint64_t *active_mask;
	size_t active_mask_words;
	uint64_t seq;           /* the event's sequence number (docs/contract.md); 0 when synthesized */
	uint64_t time_ns;       /* CLOCK_BOOTTIME of the event; 0 when synthesized */
	unsigned flags;         /* HPP_CHANGE_SYNTHESIZED */
};

struct hpp_memory_change {
	size_t struct_size;
	enum hpp_memory_state state;
	int node;               /* -1 when unknown */
	uint64_t start;         /* physical address; 0 when synthesized (unknown) */
	uint64_t size;          /* bytes */
	uint64_t seq;
	uint64_t time_ns;
	unsigned flags;         /* HPP_CHANGE_SYNTHESIZED */
};

/* One planned thread of a workload, and one node's buffer. */
struct hpp_thread {
	unsigned index;  /* stable identity of the thread within its workload */
	unsigned cpu;
	unsigned node;
	unsigned reserved;
};

struct hpp_buffer {
	unsigned node;
	unsigned reserved;
	uint64_t bytes;
};

/* What the daemon planned for the workload of this client (docs/contract.md, the
 * plan document). Valid during the call only (callbacks). */
struct hpp_assignment {
	size_t struct_size;
	uint64_t generation;
	const char *workload;
	const struct hpp_thread *threads;
	size_t thread_count;
	const struct hpp_buffer *buffers;
	size_t buffer_count;
	const char *cpuset;  /* cpulist, "0-3,8" */
	const char *mems;    /* nodelist */
};

typedef void (*hpp_processor_callback)(const struct hpp_processor_change *change, void *context);
typedef void (*hpp_memory_callback)(const struct hpp_memory_change *change, void *context);
typedef void (*hpp_assignment_callback)(const struct hpp_assignment *assignment, void *context);
typedef void (*hpp_connection_callback)(int connected, void *context);
/* One line, no newline; may be called from any of the library's threads. */
typedef void (*hpp_log_function)(const char *line, void *context);

/* A workload as the config file's [[workload]] table has it (docs/contract.md). */
struct hpp_workload {
	size_t struct_size;
	const char *name;
	unsigned threads_per_cpu;  /* 0: 1 per CPU unless has_threads */
	int has_threads;           /* nonzero: `threads` fixed threads, not per CPU */
	unsigned threads;
	const unsigned *nodes;     /* node_count node ids; 0 nodes: "all" */
	size_t node_count;
	uint64_t buffer_per_cpu;   /* bytes */
	const char *cgroup;        /* NULL: none */
};

struct hpp_options {
	size_t struct_size;
	const char *socket_path;             /* NULL: HPP_DEFAULT_SOCKET */
	const struct hpp_workload *workload; /* NULL: events only; copied by hpp_open_with() */
	unsigned reconnect_min_ms;           /* 0: 100 */
	unsigned reconnect_max_ms;           /* 0: 5000 */
	hpp_log_function log;                /* NULL: "libhpplace: ..." lines on stderr */
	void *log_context;
};

/*
 * Connects to hpplaced in the background and keeps reconnecting (with backoff)
 * when it is not there or restarts; after each connection it registers the
 * workload again and reports what changed meanwhile as synthesized changes. No
 * daemon is not an error. NULL socket_path: HPP_DEFAULT_SOCKET.
 * Errors: -EINVAL (empty path, a workload without a name), -ENOMEM, or the errno
 * of starting a thread.
 */
HPP_EXPORT hpp_client *hpp_open(const char *socket_path, int *error);
HPP_EXPORT hpp_client *hpp_open_with(const struct hpp_options *options, int *error);
/*
 * Stops the connection and the callback thread and joins them; unregisters and
 * frees every registration still held (their pointers become invalid). Must not
 * be called from a callback of the same client: that call is refused (logged,
 * nothing closed). NULL: nothing.
 */
HPP_EXPORT void hpp_close(hpp_client *client);

/*
 * Registers a callback; *out receives the registration to pass to
 * hpp_unregister(). flags: 0 or HPP_ADD_EXISTING. With HPP_ADD_EXISTING the
 * replay comes before any later change, also when the client is not connected
 * yet (then at the first connection). Errors: -EINVAL (NULL client, fn or out,
 * unknown flags), -ENOMEM.
 */
HPP_EXPORT int hpp_register_processor_callback(hpp_client *client, hpp_processor_callback fn, void *context,
					       unsigned flags, hpp_registration **out);
HPP_EXPORT int hpp_register_memory_callback(hpp_client *client, hpp_memory_callback fn, void *context,
					    unsigned flags, hpp_registration **out);
/* When the workload's assignment changes (HPP_ADD_EXISTING: at once with the current one, if any). */
HPP_EXPORT int hpp_register_assignment_callback(hpp_client *client, hpp_assignment_callback fn, void *context,
						unsigned flags, hpp_registration **out);
/* Connection to hpplaced made (1) or lost (0). flags must be 0. */
HPP_EXPORT int hpp_register_connection_callback(hpp_client *client, hpp_connection_callback fn, void *context,
						unsigned flags, hpp_registration **out);
/*
 * Unregisters and frees the registration. When it returns the callback is not
 * running and is never called again. From inside a callback of the same client
 * it returns at once without waiting (a call of the callback that is running,
 * which can only be the caller itself, finishes normally); the callback is not
 * called again either. -EINVAL for NULL.
 */
HPP_EXPORT int hpp_unregister(hpp_registration *registration);

/* 1 when connected to hpplaced, 0 if not, -EINVAL for NULL. */
HPP_EXPORT int hpp_connected(const hpp_client *client);
/* Waits until connected and the first status is in: 0, -ETIMEDOUT, -EINVAL. */
HPP_EXPORT int hpp_wait_connected(hpp_client *client, unsigned timeout_ms);

/*
 * KeQueryActiveProcessorCount: the number of online CPUs of the system (from
 * /sys/devices/system/cpu/online, sysconf as a fallback); needs no daemon. When
 * mask is not NULL it receives the set in mask_words words (bit n % 64 of word
 * n / 64 is CPU n); CPUs past mask_words * 64 are counted but not stored.
 */
HPP_EXPORT unsigned hpp_active_processor_count(uint64_t *mask, size_t mask_words);

/* A description of the error: hpp_strerror(-EINVAL), or of a positive errno. Never NULL. */
HPP_EXPORT const char *hpp_strerror(int error);

/* Names, as the C++ API and docs/contract.md spell them ("add_complete"); "unknown" otherwise. */
HPP_EXPORT const char *hpp_processor_state_name(enum hpp_processor_state state);
HPP_EXPORT const char *hpp_memory_state_name(enum hpp_memory_state state);

/*
 * The worker pool (hpplace::WorkerPool): one pinned thread per planned thread.
 * hpp_pool_apply() with each new assignment starts, re-pins or stops only the
 * threads the change names. A pin a new CPU refuses for a while is retried in
 * the background; workers of a CPU going offline are stopped as soon as a client
 * of this process hears of it. The worker function runs until
 * hpp_worker_stop_requested() is true (or hpp_worker_wait() returns 1) and then
 * returns.
 */
typedef struct hpp_pool hpp_pool;
typedef struct hpp_worker hpp_worker;
typedef void (*hpp_worker_function)(hpp_worker *worker, void *context);

/* hpp_pool_options.flags */
#define HPP_POOL_KEEP_ON_CPU_GOING_OFFLINE 0x1u  /* do not stop workers on a CPU going offline */

struct hpp_pool_options {
	size_t struct_size;
	unsigned flags;
	unsigned pin_retry_first_ms;   /* 0: 5 */
	unsigned pin_retry_max_ms;     /* 0: 500 */
	unsigned pin_retry_budget_ms;  /* 0: 3000 */
	hpp_log_function log;
	void *log_context;
};

/* What one hpp_pool_apply() or hpp_pool_stop_all() did (counts of threads). */
struct hpp_pool_changes {
	size_t struct_size;
	size_t started;
	size_t moved;
	size_t stopped;
	size_t retrying;  /* not pinned yet, retried in the background */
	size_t errors;    /* each also logged */
};

/* options may be NULL (defaults). */
HPP_EXPORT hpp_pool *hpp_pool_new(hpp_worker_function fn, void *context, const struct hpp_pool_options *options,
				  int *error);
/* Stops and joins every worker, then frees the pool. NULL: nothing. */
HPP_EXPORT void hpp_pool_free(hpp_pool *pool);
/* changes may be NULL. -EINVAL for a NULL pool or assignment, or a thread array that is NULL with a count. */
HPP_EXPORT int hpp_pool_apply(hpp_pool *pool, const struct hpp_assignment *assignment,
			      struct hpp_pool_changes *changes);
HPP_EXPORT int hpp_pool_stop_all(hpp_pool *pool, struct hpp_pool_changes *changes);
/* The running workers: stores up to max of them (by index) and returns how many there are. */
HPP_EXPORT size_t hpp_pool_threads(const hpp_pool *pool, struct hpp_thread *threads, size_t max);

/* A worker as its function sees it; cpu and node change when the pool moves it. */
HPP_EXPORT unsigned hpp_worker_index(const hpp_worker *worker);
HPP_EXPORT unsigned hpp_worker_cpu(const hpp_worker *worker);
HPP_EXPORT unsigned hpp_worker_node(const hpp_worker *worker);
HPP_EXPORT int hpp_worker_stop_requested(const hpp_worker *worker);
/* Sleeps up to timeout_ms, less when the stop is requested: 1 if it is, else 0. */
HPP_EXPORT int hpp_worker_wait(hpp_worker *worker, unsigned timeout_ms);

/*
 * Node buffers (hpplace::NodeBuffers): per node, memory bound to that node in
 * chunks, grown by a background thread that pre-faults it before handing it out.
 */
typedef struct hpp_buffers hpp_buffers;
typedef struct hpp_chunks hpp_chunks;

struct hpp_buffers_options {
	size_t struct_size;
	size_t chunk_bytes;  /* 0: 2 MiB; rounded up to the page size */
	hpp_log_function log;
	void *log_context;
};

struct hpp_chunk {
	void *data;
	size_t size;
	unsigned node;
	int node_local;  /* 0 when the memory could not be bound to node */
};

HPP_EXPORT hpp_buffers *hpp_buffers_new(const struct hpp_buffers_options *options, int *error);
HPP_EXPORT void hpp_buffers_free(hpp_buffers *buffers);
/* Sizes every node to the assignment's buffers (a node it does not name shrinks to 0). */
HPP_EXPORT int hpp_buffers_apply(hpp_buffers *buffers, const struct hpp_assignment *assignment);
/* One node's target (rounded up to the page size): growth is ready once pre-faulted, a shrink is at once. */
HPP_EXPORT int hpp_buffers_resize(hpp_buffers *buffers, unsigned node, uint64_t bytes);
HPP_EXPORT uint64_t hpp_buffers_ready_bytes(const hpp_buffers *buffers, unsigned node);
/* 0 once every pending growth is ready, -ETIMEDOUT, -EINVAL. */
HPP_EXPORT int hpp_buffers_wait_ready(const hpp_buffers *buffers, unsigned timeout_ms);
/* 1 when chunks are bound to their node (libnuma usable), else 0. */
HPP_EXPORT int hpp_buffers_numa_enabled(const hpp_buffers *buffers);
/*
 * The ready chunks of a node. *out holds them: their memory stays valid, also
 * after a shrink or hpp_buffers_free(), until hpp_chunks_release(*out).
 */
HPP_EXPORT int hpp_buffers_chunks(const hpp_buffers *buffers, unsigned node, hpp_chunks **out);
HPP_EXPORT size_t hpp_chunks_count(const hpp_chunks *chunks);
/* NULL past the end. */
HPP_EXPORT const struct hpp_chunk *hpp_chunks_at(const hpp_chunks *chunks, size_t index);
HPP_EXPORT void hpp_chunks_release(hpp_chunks *chunks);

#ifdef __cplusplus
}
#endif

#endif /* HPPLACE_HPPLACE_H */
