// Plan JSON (the daemon's pushes to libhpplace, `hpctl plan --previous`): the
// depth check, the parse, plan_from_json; what it accepts must come back
// unchanged through to_json, and print.

#include "fuzz_target.hpp"
#include "plan/plan.hpp"

using namespace hpplace;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (const auto plan = fuzz::read_round_trip<PlanError>(data, size, plan_from_json)) {
        (void)to_text(*plan);
    }
    return 0;
}
