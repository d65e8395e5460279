#include "service/auto_online.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <iostream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "core/cpu_set.hpp"
#include "core/file_descriptor.hpp"
#include "core/log.hpp"
#include "core/sysfs_text.hpp"
#include "core/system_error.hpp"

namespace hpplace {

namespace {


std::string trimmed(std::string text) {
    const auto end = text.find_last_not_of(" \t\n");
    text.erase(end == std::string::npos ? 0 : end + 1);
    const auto begin = text.find_first_not_of(" \t\n");
    return begin == std::string::npos ? std::string{} : text.substr(begin);
}

std::string read_value(const std::filesystem::path& path) {
    FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    throw_system_error_on(!fd, "cannot read " + path.string());
    char buffer[256];
    ssize_t n = 0;
    do {
        n = ::read(fd.get(), buffer, sizeof(buffer));
    } while (n < 0 && errno == EINTR);
    throw_system_error_on(n < 0, "cannot read " + path.string());
    return trimmed(std::string(buffer, static_cast<std::size_t>(n)));
}

void write_value(const std::filesystem::path& path, const std::string& value) {
    FileDescriptor fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
    throw_system_error_on(!fd, "cannot open " + path.string() + " for writing");
    ssize_t n = 0;
    do {
        n = ::write(fd.get(), value.data(), value.size());
    } while (n < 0 && errno == EINTR);
    throw_system_error_on(n < 0, "cannot write \"" + value + "\" to " + path.string());
}

}  // namespace

AutoOnliner::AutoOnliner(AutoOnlinePolicy policy, std::filesystem::path sysfs_root, LogLine log)
    : policy_(policy), root_(std::move(sysfs_root)), log_(std::move(log)) {
    if (!log_) {
        log_ = [](const std::string& line) { log::to_stderr("hpplaced", line); };
    }
}

std::filesystem::path AutoOnliner::cpu_dir() const { return root_ / "devices/system/cpu"; }

std::filesystem::path AutoOnliner::memory_dir() const { return root_ / "devices/system/memory"; }

std::optional<std::uint64_t> AutoOnliner::memory_block_size() {
    const auto path = memory_dir() / "block_size_bytes";
    try {
        const std::string text = read_value(path);
        try {
            return parse_memory_block_size(text);
        } catch (const std::invalid_argument&) {
            throw std::runtime_error("bad memory block size \"" + text + "\" in " + path.string());
        }
    } catch (const std::exception& e) {
        log_(log::warning(std::string("auto_online: ") + e.what()));
        return std::nullopt;
    }
}

AutoOnlineResult AutoOnliner::online_cpu(unsigned cpu) {
    AutoOnlineResult result;
    if (policy_ == AutoOnlinePolicy::off) {
        return result;
    }
    const auto dir = cpu_dir() / ("cpu" + std::to_string(cpu));
    const auto online = dir / "online";
    std::error_code ec;
    if (!std::filesystem::exists(online, ec)) {
        if (!std::filesystem::is_directory(dir, ec)) {
            log_(log::warning("auto_online: cpu" + std::to_string(cpu) + " is not in " + cpu_dir().string()));
            ++result.errors;
        }
        // No online file: the CPU cannot be hot-unplugged and is always online.
        return result;
    }
    try {
        if (read_value(online) != "0") {
            return result;  // already online
        }
        write_value(online, "1");
        log_(log::info("auto_online: onlined cpu" + std::to_string(cpu)));
        ++result.onlined;
    } catch (const std::exception& e) {
        log_(log::warning(std::string("auto_online: ") + e.what()));
        ++result.errors;
    }
    return result;
}

AutoOnlineResult AutoOnliner::online_memory_block(unsigned block) {
    AutoOnlineResult result;
    if (policy_ == AutoOnlinePolicy::off) {
        return result;
    }
    const auto state = memory_dir() / ("memory" + std::to_string(block)) / "state";
    try {
        if (read_value(state) != "offline") {
            return result;  // online (or on its way): leave it to whoever started it
        }
        write_value(state, std::string(to_string(policy_)));
        log_(log::info("auto_online: memory" + std::to_string(block) + " " + std::string(to_string(policy_))));
        ++result.onlined;
    } catch (const std::exception& e) {
        log_(log::warning(std::string("auto_online: ") + e.what()));
        ++result.errors;
    }
    return result;
}

AutoOnlineResult AutoOnliner::on_event(const Event& event) {
    AutoOnlineResult result;
    if (policy_ == AutoOnlinePolicy::off) {
        return result;
    }
    if (event.type == EventType::cpu_arrived) {
        if (!event.cpu) {
            log_(log::warning("auto_online: cpu_arrived #" + std::to_string(event.seq) + " names no CPU"));
            ++result.errors;
            return result;
        }
        return online_cpu(*event.cpu);
    }
    if (event.type != EventType::mem_block_added) {
        return result;
    }
    const auto block_size = memory_block_size();
    if (!event.start || !block_size) {
        if (!event.start) {
            log_(log::warning("auto_online: mem_block_added #" + std::to_string(event.seq) + " has no address"));
        }
        ++result.errors;
        return result;
    }
    const std::uint64_t size = event.size.value_or(*block_size);
    const std::uint64_t first = *event.start / *block_size;
    const std::uint64_t last = size == 0 ? first : (*event.start + size - 1) / *block_size;
    for (std::uint64_t block = first; block <= last && block <= 0xffffffffULL; ++block) {
        const auto one = online_memory_block(static_cast<unsigned>(block));
        result.onlined += one.onlined;
        result.errors += one.errors;
    }
    return result;
}

AutoOnlineResult AutoOnliner::on_resync() {
    AutoOnlineResult result;
    if (policy_ == AutoOnlinePolicy::off) {
        return result;
    }
    const auto add = [&result](const AutoOnlineResult& one) {
        result.onlined += one.onlined;
        result.errors += one.errors;
    };
    try {
        const auto present = CpuSet::parse_list(read_value(cpu_dir() / "present"));
        present.for_each([&](unsigned cpu) { add(online_cpu(cpu)); });
    } catch (const std::exception& e) {
        log_(log::warning(std::string("auto_online: ") + e.what()));
        ++result.errors;
    }
    std::error_code ec;
    std::filesystem::directory_iterator blocks(memory_dir(), ec);
    if (ec) {
        return result;  // no memory hotplug in this kernel
    }
    for (const auto& entry : blocks) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("memory", 0) != 0) {
            continue;
        }
        unsigned block = 0;
        const char* begin = name.data() + 6;
        const char* end = name.data() + name.size();
        const auto [ptr, number_ec] = std::from_chars(begin, end, block);
        if (begin == end || number_ec != std::errc{} || ptr != end) {
            continue;  // memory_tier0 and friends
        }
        add(online_memory_block(block));
    }
    return result;
}

AutoOnlineApplier::AutoOnlineApplier(boost::asio::any_io_executor loop, AutoOnlinePolicy policy,
                                     std::filesystem::path sysfs_root, LogLine log, CountErrors count_errors)
    : policy_(policy)
    , root_(std::move(sysfs_root))
    , log_(std::move(log))
    , count_errors_(std::move(count_errors))
    , worker_(std::move(loop)) {
    if (!log_) {
        log_ = [](const std::string& line) { log::to_stderr("hpplaced", line); };
    }
}

void AutoOnlineApplier::on_event(const Event& event) {
    if (policy_ == AutoOnlinePolicy::off ||
        (event.type != EventType::cpu_arrived && event.type != EventType::mem_block_added)) {
        return;
    }
    std::string key;
    if (event.type == EventType::cpu_arrived) {
        key = event.cpu ? "cpu" + std::to_string(*event.cpu) : "event #" + std::to_string(event.seq);
    } else {
        key = "memory " + (event.start ? std::to_string(*event.start) : "#" + std::to_string(event.seq)) + "+" +
              std::to_string(event.size.value_or(0));
    }
    worker_.submit(std::move(key), [this, policy = policy_, root = root_, event]() -> BlockingWorker::Completion {
        // On the worker: an AutoOnliner of its own, whose lines wait for the loop.
        std::vector<std::string> lines;
        AutoOnliner onliner(policy, root, [&lines](const std::string& line) { lines.push_back(line); });
        const AutoOnlineResult result = onliner.on_event(event);
        return [this, result, lines = std::move(lines)] {
            for (const auto& line : lines) {
                log_(line);
            }
            if (result.errors != 0 && count_errors_) {
                count_errors_(result.errors);
            }
        };
    });
}

}  // namespace hpplace
