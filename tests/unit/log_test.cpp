#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "core/log.hpp"

using namespace hpplace;

TEST_CASE("log: a priority travels as sd-daemon's prefix") {
    CHECK(log::err("x") == "<3>x");
    CHECK(log::warning("cgroup write failed") == "<4>cgroup write failed");
    CHECK(log::notice("") == "<5>");
    CHECK(log::info("a") == "<6>a");
    CHECK(log::debug("a") == "<7>a");

    CHECK(log::parse("<4>text").priority == log::Priority::warning);
    CHECK(log::parse("<4>text").text == "text");
    // 0..2 (emerg, alert, crit) are not used by the daemon: they count as err.
    CHECK(log::parse("<1>x").priority == log::Priority::err);
    // No prefix, or something that only looks like one: info, the text unchanged.
    for (const char* line : {"plain", "<8>x", "<a>x", "<4", "", "4>x", "<44>x"}) {
        CHECK(log::parse(line).priority == log::Priority::info);
        CHECK(log::parse(line).text == line);
    }
}

TEST_CASE("log: the journal gets the prefix and no name, a terminal or file the name and no prefix") {
    CHECK(log::format(log::Target::journal, "hpplaced", "<4>events lost") == "<4>events lost\n");
    CHECK(log::format(log::Target::journal, "hpplaced", "no prefix") == "<6>no prefix\n");
    CHECK(log::format(log::Target::plain, "hpplaced", "<4>events lost") == "hpplaced: events lost\n");
    CHECK(log::format(log::Target::plain, "hpplaced", "no prefix") == "hpplaced: no prefix\n");
}

TEST_CASE("log: stderr is the journal only when $JOURNAL_STREAM names that very stream") {
    char path[] = "/tmp/hpplace-log-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    struct stat st {};
    REQUIRE(::fstat(fd, &st) == 0);
    const std::string dev = std::to_string(st.st_dev);
    const std::string ino = std::to_string(st.st_ino);

    CHECK(log::is_journal_stream(fd, (dev + ":" + ino).c_str()));
    CHECK_FALSE(log::is_journal_stream(fd, nullptr));
    CHECK_FALSE(log::is_journal_stream(fd, ""));
    CHECK_FALSE(log::is_journal_stream(fd, (dev + ":" + std::to_string(st.st_ino + 1)).c_str()));
    CHECK_FALSE(log::is_journal_stream(fd, (std::to_string(st.st_dev + 1) + ":" + ino).c_str()));
    CHECK_FALSE(log::is_journal_stream(fd, (dev + ino).c_str()));
    CHECK_FALSE(log::is_journal_stream(fd, (dev + ":" + ino + "x").c_str()));
    CHECK_FALSE(log::is_journal_stream(fd, (":" + ino).c_str()));
    // Another stream (an inherited variable, stderr redirected elsewhere).
    const int other = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    REQUIRE(other >= 0);
    CHECK_FALSE(log::is_journal_stream(other, (dev + ":" + ino).c_str()));
    // A closed descriptor.
    CHECK_FALSE(log::is_journal_stream(-1, (dev + ":" + ino).c_str()));

    ::close(other);
    ::close(fd);
    ::unlink(path);
}
