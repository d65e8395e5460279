// Plan JSON (the daemon's pushes to libhpplace, `hpctl plan --previous`): the
// depth check, the parse, plan_from_json; what it accepts must come back
// unchanged through to_json, and print.

#include "fuzz_target.hpp"
#include "planner/plan.hpp"

using namespace hpplace;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto json = fuzz::json_of(fuzz::text_of(data, size));
    if (!json) {
        return 0;
    }
    try {
        const Plan plan = plan_from_json(*json);
        FUZZ_CHECK(plan_from_json(to_json(plan)) == plan);
        (void)to_text(plan);
    } catch (const PlanError&) {
    }
    return 0;
}
