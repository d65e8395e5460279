// Placeholder until the plan command lands; replaced by its implementation.
#include <stdexcept>

#include "cli/commands.hpp"

namespace hpplace::cli {

int run_plan(Args) { throw std::runtime_error("not implemented yet"); }


}  // namespace hpplace::cli
