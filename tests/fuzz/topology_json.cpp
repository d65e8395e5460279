// Topology JSON as `hpctl plan --topology` reads it: the depth check, the
// parse, topology_from_json; what it accepts must come back unchanged through
// to_json.

#include "fuzz_target.hpp"
#include "topology/topology.hpp"

using namespace hpplace;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto json = fuzz::json_of(fuzz::text_of(data, size));
    if (!json) {
        return 0;
    }
    try {
        const Topology topology = topology_from_json(*json);
        FUZZ_CHECK(topology_from_json(to_json(topology)) == topology);
    } catch (const TopologyError&) {
    }
    return 0;
}
