/*
 * The layout of the first release's hpplace.h, printed by the header it is
 * compiled against: one line per struct member (offset and size), per enum
 * value, and the size of each array element struct. check_previous_release.sh
 * compiles it against the release's copy and against the current header: every
 * line of the first must be in the second (members keep their place, structs
 * grow only at the end, array elements never change).
 */
#include <stddef.h>
#include <stdio.h>

#include <hpplace/hpplace.h>

#define MEMBER(type, m) printf("member %s.%s offset %zu size %zu\n", #type, #m, offsetof(type, m), sizeof(((type *)0)->m))
#define VALUE(v) printf("value %s %ld\n", #v, (long)(v))
#define ELEMENT(type) printf("element %s size %zu\n", #type, sizeof(type))

int main(void)
{
	MEMBER(struct hpp_processor_change, struct_size);
	MEMBER(struct hpp_processor_change, state);
	MEMBER(struct hpp_processor_change, cpu);
	MEMBER(struct hpp_processor_change, node);
	MEMBER(struct hpp_processor_change, active_count);
	MEMBER(struct hpp_processor_change, active_mask);
	MEMBER(struct hpp_processor_change, active_mask_words);
	MEMBER(struct hpp_processor_change, seq);
	MEMBER(struct hpp_processor_change, time_ns);
	MEMBER(struct hpp_processor_change, flags);
	MEMBER(struct hpp_memory_change, struct_size);
	MEMBER(struct hpp_memory_change, state);
	MEMBER(struct hpp_memory_change, node);
	MEMBER(struct hpp_memory_change, start);
	MEMBER(struct hpp_memory_change, size);
	MEMBER(struct hpp_memory_change, seq);
	MEMBER(struct hpp_memory_change, time_ns);
	MEMBER(struct hpp_memory_change, flags);
	MEMBER(struct hpp_assignment, struct_size);
	MEMBER(struct hpp_assignment, generation);
	MEMBER(struct hpp_assignment, workload);
	MEMBER(struct hpp_assignment, threads);
	MEMBER(struct hpp_assignment, thread_count);
	MEMBER(struct hpp_assignment, buffers);
	MEMBER(struct hpp_assignment, buffer_count);
	MEMBER(struct hpp_assignment, cpuset);
	MEMBER(struct hpp_assignment, mems);
	MEMBER(struct hpp_workload, struct_size);
	MEMBER(struct hpp_workload, name);
	MEMBER(struct hpp_workload, threads_per_cpu);
	MEMBER(struct hpp_workload, has_threads);
	MEMBER(struct hpp_workload, threads);
	MEMBER(struct hpp_workload, nodes);
	MEMBER(struct hpp_workload, node_count);
	MEMBER(struct hpp_workload, buffer_per_cpu);
	MEMBER(struct hpp_workload, cgroup);
	MEMBER(struct hpp_options, struct_size);
	MEMBER(struct hpp_options, socket_path);
	MEMBER(struct hpp_options, workload);
	MEMBER(struct hpp_options, reconnect_min_ms);
	MEMBER(struct hpp_options, reconnect_max_ms);
	MEMBER(struct hpp_options, log);
	MEMBER(struct hpp_options, log_context);
	MEMBER(struct hpp_pool_options, struct_size);
	MEMBER(struct hpp_pool_options, flags);
	MEMBER(struct hpp_pool_options, pin_retry_first_ms);
	MEMBER(struct hpp_pool_options, pin_retry_max_ms);
	MEMBER(struct hpp_pool_options, pin_retry_budget_ms);
	MEMBER(struct hpp_pool_options, log);
	MEMBER(struct hpp_pool_options, log_context);
	MEMBER(struct hpp_pool_changes, struct_size);
	MEMBER(struct hpp_pool_changes, started);
	MEMBER(struct hpp_pool_changes, moved);
	MEMBER(struct hpp_pool_changes, stopped);
	MEMBER(struct hpp_pool_changes, retrying);
	MEMBER(struct hpp_pool_changes, errors);
	MEMBER(struct hpp_buffers_options, struct_size);
	MEMBER(struct hpp_buffers_options, chunk_bytes);
	MEMBER(struct hpp_buffers_options, log);
	MEMBER(struct hpp_buffers_options, log_context);
	ELEMENT(struct hpp_thread);
	MEMBER(struct hpp_thread, index);
	MEMBER(struct hpp_thread, cpu);
	MEMBER(struct hpp_thread, node);
	ELEMENT(struct hpp_buffer);
	MEMBER(struct hpp_buffer, node);
	MEMBER(struct hpp_buffer, bytes);
	ELEMENT(struct hpp_chunk);
	MEMBER(struct hpp_chunk, data);
	MEMBER(struct hpp_chunk, size);
	MEMBER(struct hpp_chunk, node);
	MEMBER(struct hpp_chunk, node_local);
	VALUE(HPP_PROCESSOR_ADD_START);
	VALUE(HPP_PROCESSOR_ADD_COMPLETE);
	VALUE(HPP_PROCESSOR_ADD_FAILED);
	VALUE(HPP_PROCESSOR_GOING_OFFLINE);
	VALUE(HPP_PROCESSOR_OFFLINE);
	VALUE(HPP_PROCESSOR_REMOVED);
	VALUE(HPP_MEMORY_GOING_ONLINE);
	VALUE(HPP_MEMORY_ONLINE);
	VALUE(HPP_MEMORY_ONLINE_CANCELED);
	VALUE(HPP_MEMORY_GOING_OFFLINE);
	VALUE(HPP_MEMORY_OFFLINE);
	VALUE(HPP_MEMORY_OFFLINE_CANCELED);
	VALUE(HPP_ADD_EXISTING);
	VALUE(HPP_CHANGE_SYNTHESIZED);
	VALUE(HPP_POOL_KEEP_ON_CPU_GOING_OFFLINE);
	return 0;
}
