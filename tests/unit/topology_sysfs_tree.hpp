#pragma once

// A writable copy of a sysfs fixture tree for the topology tests, removed on
// destruction; links stay links.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace hpplace::testing {

inline std::filesystem::path sysfs_fixture(const std::string& name) {
    return std::filesystem::path(HPPLACE_FIXTURES) / "sysfs" / name;
}

class SysfsTree {
public:
    explicit SysfsTree(const std::string& fixture) {
        std::string pattern = (std::filesystem::temp_directory_path() / "hpplace-sysfs-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::system_error(errno, std::system_category(), "mkdtemp");
        }
        root_ = pattern;
        std::filesystem::copy(sysfs_fixture(fixture), root_,
                              std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
    }
    SysfsTree(const SysfsTree&) = delete;
    SysfsTree& operator=(const SysfsTree&) = delete;
    ~SysfsTree() {
        std::error_code ignored;
        std::filesystem::remove_all(root_, ignored);
    }

    const std::filesystem::path& root() const noexcept { return root_; }
    std::filesystem::path system() const { return root_ / "devices" / "system"; }

    // Writes `text` and a newline to devices/system/<relative>, creating directories.
    void write(const std::string& relative, const std::string& text) const {
        const auto path = system() / relative;
        std::filesystem::create_directories(path.parent_path());
        std::ofstream out(path, std::ios::trunc);
        out << text << '\n';
        if (!out) {
            throw std::runtime_error("cannot write " + path.string());
        }
    }
    void remove(const std::string& relative) const { std::filesystem::remove_all(system() / relative); }
    void link(const std::string& relative, const std::string& target) const {
        std::filesystem::create_directories((system() / relative).parent_path());
        std::filesystem::create_directory_symlink(target, system() / relative);
    }

private:
    std::filesystem::path root_;
};

}  // namespace hpplace::testing
