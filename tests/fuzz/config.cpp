// The daemon's TOML config (planner/config.cpp over toml++, the library as
// linked): any text gives a Config or one ConfigError line naming the file.

#include "fuzz_target.hpp"
#include "config/config.hpp"

using namespace hpplace;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    constexpr std::string_view path = "fuzz.toml";
    try {
        const Config config = parse_config(fuzz::text_of(data, size), path);
        FUZZ_CHECK(config.max_memory_share > 0.0 && config.max_memory_share <= 1.0);
        for (const auto& workload : config.workloads) {
            FUZZ_CHECK(!workload.name.empty());
        }
    } catch (const ConfigError& e) {
        const std::string_view message = e.what();
        FUZZ_CHECK(message.starts_with(std::string(path) + ":"));
    }
    return 0;
}
