// dist/hpplaced.service passes `systemd-analyze verify` without a single
// complaint (unknown keys only warn, so any output is a failure here), and
// `systemd-analyze security --offline=yes` rates it at most 1.5.
#include <doctest/doctest.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

const std::filesystem::path repo_root = std::filesystem::path(HPPLACE_FIXTURES).parent_path().parent_path();

std::string read(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

struct CommandResult {
    int status = -1;
    std::string output;
};

CommandResult run(const std::string& command) {
    CommandResult result;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    REQUIRE(pipe != nullptr);
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) {
        result.output += buffer;
    }
    const int status = ::pclose(pipe);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

// The unit with ExecStart pointing at an executable that exists here, beside
// the socket unit it requires.
std::filesystem::path staged_unit(const std::string& text, const std::filesystem::path& dir) {
    std::filesystem::copy_file(repo_root / "dist/hpplaced.socket", dir / "hpplaced.socket",
                               std::filesystem::copy_options::overwrite_existing);
    std::string unit = text;
    const std::string from = "ExecStart=/usr/sbin/hpplaced";
    const auto at = unit.find(from);
    REQUIRE(at != std::string::npos);
    unit.replace(at, from.size(), "ExecStart=" + std::filesystem::read_symlink("/proc/self/exe").string());
    const auto path = dir / "hpplaced.service";
    std::ofstream(path) << unit;
    return path;
}

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "hpplaced-unit-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
};

// The exposure as `systemd-analyze security` prints it ("... hpplaced.service: 1.5 OK"), and whether
// --threshold=15 (its scale is 0-100) passed.
struct Exposure {
    bool within = false;
    std::string line;
};

Exposure security(const std::filesystem::path& unit) {
    const auto result = run("systemd-analyze security --offline=yes --threshold=15 " + unit.string());
    Exposure exposure;
    exposure.within = result.status == 0;
    std::istringstream lines(result.output);
    for (std::string line; std::getline(lines, line);) {
        if (line.find("Overall exposure level") != std::string::npos) {
            exposure.line = line;
        }
    }
    INFO("systemd-analyze security said: " << result.output);
    REQUIRE_FALSE(exposure.line.empty());
    return exposure;
}

}  // namespace

TEST_CASE("dist/hpplaced.service: systemd-analyze verify is silent") {
    const std::string unit = read(repo_root / "dist/hpplaced.service");
    REQUIRE_FALSE(unit.empty());
    CHECK(unit.find("Type=notify") != std::string::npos);
    CHECK(unit.find("ExecReload=/bin/kill -HUP $MAINPID") != std::string::npos);
    CHECK(unit.find("RestrictAddressFamilies=AF_UNIX AF_NETLINK") != std::string::npos);
    // docs/contract.md: 78 is a bad config file, which a restart does not mend.
    CHECK(unit.find("\nRestartPreventExitStatus=78\n") != std::string::npos);
    CHECK(unit.find("\nUser=hpplaced\n") != std::string::npos);
    TempDir dir;
    const auto result = run("systemd-analyze verify " + staged_unit(unit, dir.path).string());
    INFO("systemd-analyze said: " << result.output);
    CHECK(result.status == 0);
    CHECK(result.output.empty());
}

TEST_CASE("dist/hpplaced.service: the check notices a broken unit") {
    // A misspelt key only warns: the silent-output check above is what catches it.
    std::string unit = read(repo_root / "dist/hpplaced.service");
    unit.replace(unit.find("NotifyAccess="), 13, "NotifyAcess=");
    TempDir dir;
    const auto result = run("systemd-analyze verify " + staged_unit(unit, dir.path).string());
    CHECK(result.output.find("NotifyAcess") != std::string::npos);
}

TEST_CASE("dist/hpplaced.socket: systemd-analyze verify is silent, and it is the socket the daemon expects") {
    const std::string socket = read(repo_root / "dist/hpplaced.socket");
    REQUIRE_FALSE(socket.empty());
    CHECK(socket.find("ListenStream=/run/hpplaced.sock\n") != std::string::npos);
    CHECK(socket.find("SocketGroup=hpplace\n") != std::string::npos);
    CHECK(socket.find("SocketMode=0660\n") != std::string::npos);
    TempDir dir;
    staged_unit(read(repo_root / "dist/hpplaced.service"), dir.path);  // the service it activates
    std::ofstream(dir.path / "hpplaced.socket") << socket;
    const auto result = run("systemd-analyze verify " + (dir.path / "hpplaced.socket").string());
    INFO("systemd-analyze said: " << result.output);
    CHECK(result.status == 0);
    CHECK(result.output.empty());
}

TEST_CASE("dist/hpplaced.service: systemd-analyze security rates it at most 1.5") {
    TempDir dir;
    const auto exposure = security(staged_unit(read(repo_root / "dist/hpplaced.service"), dir.path));
    INFO(exposure.line);
    CHECK(exposure.within);
}

TEST_CASE("dist/hpplaced.service: the security check notices a weaker unit") {
    // Without ProtectControlGroups= the unit is rated 1.6: the check must fail it.
    std::string unit = read(repo_root / "dist/hpplaced.service");
    const std::string line = "\nProtectControlGroups=yes\n";
    const auto at = unit.find(line);
    REQUIRE(at != std::string::npos);
    unit.erase(at, line.size() - 1);
    TempDir dir;
    const auto exposure = security(staged_unit(unit, dir.path));
    INFO(exposure.line);
    CHECK_FALSE(exposure.within);
}
