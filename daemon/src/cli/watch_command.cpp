// Placeholder until the watch command lands; replaced by its implementation.
#include <stdexcept>

#include "cli/commands.hpp"

namespace hpplace::cli {

int run_watch(Args) { throw std::runtime_error("not implemented yet"); }


}  // namespace hpplace::cli
