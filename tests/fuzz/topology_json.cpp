// Topology JSON as `hpctl plan --topology` reads it: the depth check, the
// parse, topology_from_json; what it accepts must come back unchanged through
// to_json.

#include "fuzz_target.hpp"
#include "topology/topology.hpp"

using namespace hpplace;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    (void)fuzz::read_round_trip<TopologyError>(data, size, topology_from_json);
    return 0;
}
