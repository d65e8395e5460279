// The small text readers of sysfs and config values: cpulists (sysfs,
// cgroup cpuset files, reserved_cpus, plan cpusets), sysfs names ("cpu12",
// "node1", "memory7"), block_size_bytes and byte sizes ("64MiB"). Each reading
// must print back to what it read.

#include <stdexcept>

#include "core/cpu_set.hpp"
#include "core/sysfs_text.hpp"
#include "fuzz_target.hpp"
#include "core/size.hpp"

using namespace hpplace;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = fuzz::text_of(data, size);
    try {
        const CpuSet cpus = CpuSet::parse_list(text);
        FUZZ_CHECK(CpuSet::parse_list(cpus.to_list()) == cpus);
        FUZZ_CHECK(CpuSet::from_words(cpus.words()) == cpus);
    } catch (const std::invalid_argument&) {
    }
    for (const std::string_view prefix : {"cpu", "node", "memory"}) {
        if (const auto number = sysname_number(text, prefix)) {
            FUZZ_CHECK(sysname_number(std::string(prefix) + std::to_string(*number), prefix) == number);
        }
    }
    try {
        FUZZ_CHECK(parse_memory_block_size(text) != 0);
    } catch (const std::invalid_argument&) {
    }
    try {
        const std::uint64_t bytes = parse_size(text);
        FUZZ_CHECK(parse_size(format_size(bytes)) == bytes);
        (void)format_size_readable(bytes);
    } catch (const std::invalid_argument&) {
    } catch (const std::out_of_range&) {
    }
    return 0;
}
