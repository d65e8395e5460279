// Placeholder until the status command lands; replaced by its implementation.
#include <stdexcept>

#include "cli/commands.hpp"

namespace hpplace::cli {

int run_status(Args) { throw std::runtime_error("not implemented yet"); }
int run_metrics(Args) { throw std::runtime_error("not implemented yet"); }

}  // namespace hpplace::cli
