#include <doctest/doctest.h>

#include <cerrno>
#include <limits>
#include <string>
#include <system_error>

#include "hpnotify.h"
#include "hpnotify_message_builder.hpp"
#include "kernel/protocol.hpp"

using namespace hpplace;
using namespace hpplace::kernel;
using namespace hpplace::kernel::testing;

namespace {

// The attribute of the given type inside a built message, for corrupting it.
nlattr* find_attribute(nlmsghdr* nlh, std::uint16_t type) {
    nlattr* found = nullptr;
    auto* attr = static_cast<nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(genlmsghdr)));
    const auto* tail = static_cast<char*>(mnl_nlmsg_get_payload_tail(nlh));
    for (; mnl_attr_ok(attr, static_cast<int>(tail - reinterpret_cast<char*>(attr))); attr = mnl_attr_next(attr)) {
        if (mnl_attr_get_type(attr) == type) {
            found = attr;
        }
    }
    REQUIRE(found != nullptr);
    return found;
}

std::string protocol_error_of(const Bytes& bytes) {
    try {
        parse_event(bytes);
    } catch (const ProtocolError& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

// ---- events ----

TEST_CASE("a cpu_online event parses into every field the kernel sent") {
    const Event event = parse_event(cpu_online_event(17).bytes());
    CHECK(event.seq == 17);
    CHECK(event.type == EventType::cpu_online);
    CHECK(event.source == EventSource::kernel);
    CHECK(event.time_ns == 123456789);
    CHECK(event.cpu == 2U);
    CHECK(event.node == 1U);
    CHECK(event.online_cpus == 3U);
    REQUIRE(event.online_mask);
    CHECK(event.online_mask->to_list() == "0-2");
    CHECK_FALSE(event.start);
    CHECK_FALSE(event.size);
}

TEST_CASE("a mem_online event carries the range and its node") {
    MessageBuilder b(family_id, HPNOTIFY_CMD_EVENT);
    b.u64(HPNOTIFY_A_EVENT_SEQ, 3)
        .u64(HPNOTIFY_A_EVENT_TIMESTAMP, 1)
        .u32(HPNOTIFY_A_EVENT_TYPE, HPNOTIFY_EVENT_MEM_ONLINE)
        .u32(HPNOTIFY_A_EVENT_NODE, 1)
        .u64(HPNOTIFY_A_EVENT_MEM_START, 0x140000000)
        .u64(HPNOTIFY_A_EVENT_MEM_SIZE, 128ULL << 20);
    const Event event = parse_event(b.bytes());
    CHECK(event.type == EventType::mem_online);
    CHECK(event.node == 1U);
    CHECK(event.start == 0x140000000ULL);
    CHECK(event.size == (128ULL << 20));
    CHECK_FALSE(event.cpu);
}

TEST_CASE("unknown and pad attributes are skipped") {
    MessageBuilder b = cpu_online_event(5);
    b.raw(HPNOTIFY_A_EVENT_PAD, 0, nullptr).u32(HPNOTIFY_A_EVENT_MAX + 3, 77).u64(200, 1);
    CHECK(parse_event(b.bytes()) == parse_event(cpu_online_event(5).bytes()));
}

TEST_CASE("short buffers and bad nlmsg_len are protocol errors") {
    const Bytes good = cpu_online_event(1).bytes();
    CHECK_THROWS_AS(parse_event(Bytes(good.begin(), good.begin() + 10)), ProtocolError);
    CHECK(protocol_error_of(Bytes(good.begin(), good.begin() + 10)).find("too short") != std::string::npos);
    CHECK_THROWS_AS(parse_event(Bytes{}), ProtocolError);

    // nlmsg_len claims more than was received
    const Bytes cut(good.begin(), good.end() - 8);
    CHECK(protocol_error_of(cut).find("exceeds") != std::string::npos);

    // nlmsg_len smaller than the header
    Bytes tiny = good;
    const std::uint32_t len = 8;
    std::memcpy(tiny.data(), &len, sizeof len);
    CHECK(protocol_error_of(tiny).find("smaller than its header") != std::string::npos);

    // room for nlmsghdr but not for the generic netlink header
    Bytes headless(good.begin(), good.begin() + NLMSG_HDRLEN);
    const std::uint32_t headless_len = NLMSG_HDRLEN;
    std::memcpy(headless.data(), &headless_len, sizeof headless_len);
    CHECK(protocol_error_of(headless).find("generic netlink header") != std::string::npos);
}

TEST_CASE("an attribute overrunning the message is an error, not a quiet stop") {
    MessageBuilder b = cpu_online_event(1);
    nlattr* mask = find_attribute(b.header(), HPNOTIFY_A_EVENT_ONLINE_MASK);
    mask->nla_len = static_cast<std::uint16_t>(mask->nla_len + 64);
    const std::string error = protocol_error_of(b.bytes());
    CHECK(error.find("overruns") != std::string::npos);
    CHECK(error.find("type 9") != std::string::npos);
}

TEST_CASE("an attribute of the wrong size is named in the error") {
    MessageBuilder b(family_id, HPNOTIFY_CMD_EVENT);
    b.u32(HPNOTIFY_A_EVENT_SEQ, 1)
        .u64(HPNOTIFY_A_EVENT_TIMESTAMP, 1)
        .u32(HPNOTIFY_A_EVENT_TYPE, HPNOTIFY_EVENT_CPU_ONLINE);
    CHECK(protocol_error_of(b.bytes()) == "hpnotify event: HPNOTIFY_A_EVENT_SEQ has 4 bytes, expected a u64");

    MessageBuilder wide_cpu = cpu_online_event(1);
    wide_cpu.u64(HPNOTIFY_A_EVENT_CPU, 2);  // a repeated attribute is checked too
    CHECK(protocol_error_of(wide_cpu.bytes()).find("HPNOTIFY_A_EVENT_CPU has 8 bytes") != std::string::npos);

    MessageBuilder odd_mask(family_id, HPNOTIFY_CMD_EVENT);
    const std::uint32_t word = 7;
    odd_mask.u64(HPNOTIFY_A_EVENT_SEQ, 1)
        .u64(HPNOTIFY_A_EVENT_TIMESTAMP, 1)
        .u32(HPNOTIFY_A_EVENT_TYPE, HPNOTIFY_EVENT_CPU_ONLINE)
        .raw(HPNOTIFY_A_EVENT_ONLINE_MASK, sizeof word, &word);
    CHECK(protocol_error_of(odd_mask.bytes()).find("HPNOTIFY_A_EVENT_ONLINE_MASK has 4 bytes") != std::string::npos);
}

TEST_CASE("missing mandatory attributes and unknown types are rejected") {
    MessageBuilder no_seq(family_id, HPNOTIFY_CMD_EVENT);
    no_seq.u64(HPNOTIFY_A_EVENT_TIMESTAMP, 1).u32(HPNOTIFY_A_EVENT_TYPE, HPNOTIFY_EVENT_CPU_ONLINE);
    CHECK(protocol_error_of(no_seq.bytes()) == "hpnotify event: missing HPNOTIFY_A_EVENT_SEQ");

    MessageBuilder no_type(family_id, HPNOTIFY_CMD_EVENT);
    no_type.u64(HPNOTIFY_A_EVENT_SEQ, 1).u64(HPNOTIFY_A_EVENT_TIMESTAMP, 1);
    CHECK(protocol_error_of(no_type.bytes()) == "hpnotify event: missing HPNOTIFY_A_EVENT_TYPE");

    for (const std::uint32_t bad_type : {0U, static_cast<std::uint32_t>(HPNOTIFY_EVENT_MAX + 1), 999U}) {
        MessageBuilder b(family_id, HPNOTIFY_CMD_EVENT);
        b.u64(HPNOTIFY_A_EVENT_SEQ, 4).u64(HPNOTIFY_A_EVENT_TIMESTAMP, 1).u32(HPNOTIFY_A_EVENT_TYPE, bad_type);
        CHECK(protocol_error_of(b.bytes()) == "hpnotify event #4: unknown event type " + std::to_string(bad_type));
    }
}

TEST_CASE("an event message must carry the event command, alone") {
    MessageBuilder wrong(family_id, HPNOTIFY_CMD_GET_STATS);
    wrong.u64(HPNOTIFY_A_EVENT_SEQ, 1);
    CHECK(protocol_error_of(wrong.bytes()).find("unexpected generic netlink command 2") != std::string::npos);

    const Bytes two = concat({cpu_online_event(1).bytes(), cpu_online_event(2).bytes()});
    CHECK(protocol_error_of(two).find("expected one netlink message, got 2") != std::string::npos);
}

TEST_CASE("NLMSG_ERROR becomes std::system_error with the kernel's errno") {
    const Bytes error = MessageBuilder::control(NLMSG_ERROR, -EPERM).bytes();
    try {
        parse_event(error);
        FAIL("no exception");
    } catch (const std::system_error& e) {
        CHECK(e.code().value() == EPERM);
    }
    // an ack (error 0) is not an error but not an event either
    CHECK_THROWS_AS(parse_event(MessageBuilder::control(NLMSG_ERROR, 0).bytes()), ProtocolError);
}

TEST_CASE("split_messages walks back-to-back messages and ends_reply spots the end") {
    const Bytes stream = concat({cpu_online_event(1).bytes(), cpu_online_event(2).bytes(), dump_done()});
    const auto messages = split_messages(stream);
    REQUIRE(messages.size() == 3);
    CHECK(parse_event(messages[1].bytes).seq == 2);
    CHECK(messages[2].type == NLMSG_DONE);
    CHECK(ends_reply(stream));
    CHECK_FALSE(ends_reply(cpu_online_event(1).bytes()));
    CHECK(ends_reply(MessageBuilder::control(NLMSG_ERROR, -ENOENT).bytes()));
}

// ---- state dump ----

TEST_CASE("a state dump: globals, then one node per message, then NLMSG_DONE") {
    const Bytes stream = concat({state_globals().bytes(), state_node(0, 512ULL << 20, 0x3).bytes(),
                                 state_node(1, 640ULL << 20, 0xc).bytes(), dump_done()});
    const KernelState state = parse_state_messages(stream);
    CHECK(state.last_seq == 42);
    CHECK(state.nr_cpu_ids == 4);
    CHECK(state.possible.to_list() == "0-3");
    CHECK(state.present.to_list() == "0-2");
    CHECK(state.online.to_list() == "0-1");
    REQUIRE(state.nodes.size() == 2);
    CHECK(state.nodes[0] == KernelNode{0, 512ULL << 20, CpuSet::parse_list("0-1")});
    CHECK(state.nodes[1] == KernelNode{1, 640ULL << 20, CpuSet::parse_list("2-3")});
}

TEST_CASE("a node without CPUs (memory-only) has an empty set") {
    MessageBuilder b(family_id, HPNOTIFY_CMD_GET_STATE, NLM_F_MULTI, 7);
    b.begin_nest(HPNOTIFY_A_STATE_NODE).u32(HPNOTIFY_A_NODE_ID, 2).u64(HPNOTIFY_A_NODE_MEM_BYTES, 1 << 30).end_nest();
    const KernelState state = parse_state_messages(concat({state_globals().bytes(), b.bytes(), dump_done()}));
    REQUIRE(state.nodes.size() == 1);
    CHECK(state.nodes[0].id == 2);
    CHECK(state.nodes[0].cpus.empty());
}

TEST_CASE("a truncated multipart dump is an error") {
    const Bytes no_done = concat({state_globals().bytes(), state_node(0, 1, 1).bytes()});
    CHECK_THROWS_WITH_AS(parse_state_messages(no_done), "hpnotify state dump truncated: no NLMSG_DONE after 2 messages",
                         ProtocolError);
    CHECK_THROWS_AS(parse_state_messages(Bytes{}), ProtocolError);

    // cut in the middle of the second message
    const Bytes full = concat({state_globals().bytes(), state_node(0, 1, 1).bytes(), dump_done()});
    const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(state_globals().bytes().size() + 12));
    CHECK_THROWS_AS(parse_state_messages(cut), ProtocolError);
}

TEST_CASE("NLM_F_DUMP_INTR on any message asks for a retry") {
    const Bytes stream =
        concat({state_globals().bytes(), state_node(0, 1, 1, NLM_F_MULTI | NLM_F_DUMP_INTR).bytes(), dump_done()});
    CHECK_THROWS_AS(parse_state_messages(stream), DumpInterrupted);
}

TEST_CASE("errors inside a dump surface as std::system_error") {
    try {
        parse_state_messages(concat({MessageBuilder::control(NLMSG_ERROR, -EPERM).bytes()}));
        FAIL("no exception");
    } catch (const std::system_error& e) {
        CHECK(e.code().value() == EPERM);
    }
    try {
        parse_state_messages(concat({state_globals().bytes(), dump_done(-EMSGSIZE)}));
        FAIL("no exception");
    } catch (const std::system_error& e) {
        CHECK(e.code().value() == EMSGSIZE);
    }
}

TEST_CASE("malformed state messages are protocol errors") {
    MessageBuilder no_id(family_id, HPNOTIFY_CMD_GET_STATE, NLM_F_MULTI, 7);
    no_id.begin_nest(HPNOTIFY_A_STATE_NODE).u64(HPNOTIFY_A_NODE_MEM_BYTES, 1).end_nest();
    CHECK_THROWS_WITH_AS(parse_state_messages(concat({state_globals().bytes(), no_id.bytes(), dump_done()})),
                         "hpnotify state node: missing HPNOTIFY_A_NODE_ID", ProtocolError);

    // an attribute overrunning its nest
    MessageBuilder overrun = state_node(0, 1, 1);
    nlattr* nest = find_attribute(overrun.header(), HPNOTIFY_A_STATE_NODE);
    auto* first = static_cast<nlattr*>(mnl_attr_get_payload(nest));
    first->nla_len = static_cast<std::uint16_t>(first->nla_len + 40);
    CHECK_THROWS_AS(parse_state_messages(concat({state_globals().bytes(), overrun.bytes(), dump_done()})),
                    ProtocolError);

    MessageBuilder no_online(family_id, HPNOTIFY_CMD_GET_STATE, NLM_F_MULTI, 7);
    no_online.u64(HPNOTIFY_A_STATE_LAST_SEQ, 1)
        .u32(HPNOTIFY_A_STATE_NR_CPU_IDS, 4)
        .bitmap(HPNOTIFY_A_STATE_POSSIBLE_CPUS, {1})
        .bitmap(HPNOTIFY_A_STATE_PRESENT_CPUS, {1});
    CHECK_THROWS_WITH_AS(parse_state_messages(concat({no_online.bytes(), dump_done()})),
                         "hpnotify state dump: missing HPNOTIFY_A_STATE_ONLINE_CPUS", ProtocolError);

    CHECK_THROWS_AS(parse_state_messages(concat({state_globals().bytes(), dump_done(), state_node(0, 1, 1).bytes()})),
                    ProtocolError);
}

// ---- stats ----

TEST_CASE("stats: counters by event type, newer types ignored") {
    const KernelStats stats = parse_stats(stats_reply().bytes());
    CHECK(stats.last_seq == 9);
    CHECK(stats.send_failures == 1);
    CHECK(stats.no_listener == 12);
    CHECK(stats.listeners);
    CHECK(stats.sent.size() == 2);
    CHECK(stats.sent.at(EventType::cpu_online) == 5);
    CHECK(stats.sent.at(EventType::mem_online) == 4);
}

TEST_CASE("stats: missing or mis-sized attributes are protocol errors") {
    MessageBuilder no_seq(family_id, HPNOTIFY_CMD_GET_STATS);
    no_seq.begin_nest(HPNOTIFY_A_STATS_SENT).end_nest();
    CHECK_THROWS_WITH_AS(parse_stats(no_seq.bytes()), "hpnotify stats: missing HPNOTIFY_A_STATS_LAST_SEQ",
                         ProtocolError);

    MessageBuilder narrow(family_id, HPNOTIFY_CMD_GET_STATS);
    narrow.u64(HPNOTIFY_A_STATS_LAST_SEQ, 1)
        .begin_nest(HPNOTIFY_A_STATS_SENT)
        .u32(HPNOTIFY_EVENT_CPU_ONLINE, 5)
        .end_nest()
        .u64(HPNOTIFY_A_STATS_SEND_FAILURES, 0)
        .u64(HPNOTIFY_A_STATS_NO_LISTENER, 0)
        .u32(HPNOTIFY_A_STATS_LISTENERS, 0);
    CHECK_THROWS_WITH_AS(parse_stats(narrow.bytes()),
                         "hpnotify stats: counter of cpu_online has 4 bytes, expected a u64", ProtocolError);
    CHECK_THROWS_AS(parse_stats(MessageBuilder::control(NLMSG_ERROR, -EACCES).bytes()), std::system_error);
}

// ---- nlctrl ----

TEST_CASE("nlctrl family reply: id, version, multicast groups by name") {
    const ControlMessage reply = parse_control_message(family_reply().bytes());
    CHECK(reply.command == CTRL_CMD_NEWFAMILY);
    CHECK(reply.family.id == family_id);
    CHECK(reply.family.name == "hpnotify");
    CHECK(reply.family.version == 1);
    CHECK(reply.family.group("events") == 11U);
    CHECK(reply.family.group("other") == 12U);
    CHECK_FALSE(reply.family.group("nothing"));
    CHECK(parse_control_message(family_reply(CTRL_CMD_DELFAMILY).bytes()).command == CTRL_CMD_DELFAMILY);
}

TEST_CASE("nlctrl: family not found, foreign messages and broken groups") {
    try {
        parse_control_message(MessageBuilder::control(NLMSG_ERROR, -ENOENT).bytes());
        FAIL("no exception");
    } catch (const std::system_error& e) {
        CHECK(e.code().value() == ENOENT);
    }
    CHECK_THROWS_AS(parse_control_message(cpu_online_event(1).bytes()), ProtocolError);

    MessageBuilder no_group_id(GENL_ID_CTRL, CTRL_CMD_NEWFAMILY);
    no_group_id.u16(CTRL_ATTR_FAMILY_ID, 3)
        .strz(CTRL_ATTR_FAMILY_NAME, "x")
        .begin_nest(CTRL_ATTR_MCAST_GROUPS)
        .begin_nest(1)
        .strz(CTRL_ATTR_MCAST_GRP_NAME, "events")
        .end_nest()
        .end_nest();
    CHECK_THROWS_WITH_AS(parse_control_message(no_group_id.bytes()),
                         "nlctrl multicast group: missing CTRL_ATTR_MCAST_GRP_ID", ProtocolError);

    MessageBuilder unterminated(GENL_ID_CTRL, CTRL_CMD_NEWFAMILY);
    unterminated.u16(CTRL_ATTR_FAMILY_ID, 3).raw(CTRL_ATTR_FAMILY_NAME, 3, "abc");
    CHECK_THROWS_AS(parse_control_message(unterminated.bytes()), ProtocolError);
}

// ---- requests ----

TEST_CASE("request builders produce what the kernel expects") {
    const Bytes family = build_get_family_request("hpnotify", 77);
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(family.data());
    CHECK(nlh->nlmsg_len == family.size());
    CHECK(nlh->nlmsg_type == GENL_ID_CTRL);
    CHECK(nlh->nlmsg_flags == NLM_F_REQUEST);
    CHECK(nlh->nlmsg_seq == 77);
    const auto* genl = static_cast<const genlmsghdr*>(mnl_nlmsg_get_payload(nlh));
    CHECK(genl->cmd == CTRL_CMD_GETFAMILY);
    const auto* name = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(genlmsghdr)));
    CHECK(mnl_attr_get_type(name) == CTRL_ATTR_FAMILY_NAME);
    CHECK(std::string(mnl_attr_get_str(name)) == "hpnotify");

    CHECK_THROWS_AS(build_get_family_request("", 1), std::invalid_argument);
    CHECK_THROWS_AS(build_get_family_request("sixteen_chars_xx", 1), std::invalid_argument);
    CHECK_NOTHROW(build_get_family_request("fifteen_chars_x", 1));

    const Bytes state = build_get_state_request(family_id, 5);
    const auto state_view = split_messages(state);
    REQUIRE(state_view.size() == 1);
    CHECK(state_view[0].type == family_id);
    CHECK(state_view[0].flags == (NLM_F_REQUEST | NLM_F_DUMP));
    CHECK(state_view[0].seq == 5);
    CHECK(static_cast<const genlmsghdr*>(mnl_nlmsg_get_payload(reinterpret_cast<const nlmsghdr*>(state.data())))->cmd ==
          HPNOTIFY_CMD_GET_STATE);
    CHECK(state.size() == NLMSG_HDRLEN + GENL_HDRLEN);

    const Bytes stats = build_get_stats_request(family_id, 6);
    CHECK(split_messages(stats)[0].flags == NLM_F_REQUEST);
    CHECK(static_cast<const genlmsghdr*>(mnl_nlmsg_get_payload(reinterpret_cast<const nlmsghdr*>(stats.data())))->cmd ==
          HPNOTIFY_CMD_GET_STATS);
}

// ---- sequence numbers ----

TEST_CASE("sequence checks: first, in order, gaps, going backwards") {
    using Kind = SequenceCheck::Kind;
    CHECK(check_sequence(std::nullopt, 1).kind == Kind::first);
    CHECK(check_sequence(std::nullopt, 500).kind == Kind::first);
    CHECK(check_sequence(4, 5).kind == Kind::in_order);
    CHECK(check_sequence(0, 1).kind == Kind::in_order);

    const SequenceCheck gap = check_sequence(4, 9);
    CHECK(gap.kind == Kind::gap);
    CHECK(gap.first_lost == 5);
    CHECK(gap.last_lost == 8);
    CHECK(gap.lost() == 4);
    CHECK(check_sequence(4, 6).lost() == 1);

    CHECK(check_sequence(9, 9).kind == Kind::backwards);
    CHECK(check_sequence(9, 1).kind == Kind::backwards);
    CHECK(check_sequence(9, 1).lost() == 0);
    CHECK(check_sequence(UINT64_MAX, 0).kind == Kind::backwards);
}

// ---- any bytes at all ----

TEST_CASE("corrupted messages give ProtocolError or std::system_error, nothing else") {
    const std::vector<Bytes> seeds = {
        cpu_online_event(3).bytes(),
        concat({state_globals().bytes(), state_node(0, 1, 1).bytes(), dump_done()}),
        stats_reply().bytes(),
        family_reply().bytes(),
    };
    std::uint64_t state = 0x9e3779b97f4a7c15ULL;  // fixed seed: the same cases on every run
    const auto next = [&state] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    int parsed = 0;
    int rejected = 0;
    for (int round = 0; round < 4000; ++round) {
        Bytes bytes = seeds[round % seeds.size()];
        const int flips = 1 + static_cast<int>(next() % 4);
        for (int f = 0; f < flips; ++f) {
            bytes[next() % bytes.size()] = static_cast<std::byte>(next());
        }
        if (next() % 4 == 0) {
            bytes.resize(next() % (bytes.size() + 1));
        }
        const auto attempt = [&](auto&& parse) {
            try {
                parse(bytes);
                ++parsed;
            } catch (const ProtocolError&) {
                ++rejected;
            } catch (const std::system_error&) {
                ++rejected;
            }
        };
        attempt([](const Bytes& b) { parse_event(b); });
        attempt([](const Bytes& b) { parse_state_messages(b); });
        attempt([](const Bytes& b) { parse_stats(b); });
        attempt([](const Bytes& b) { parse_control_message(b); });
    }
    CHECK(parsed + rejected == 4 * 4000);
    CHECK(rejected > 0);
    CHECK(parsed > 0);  // some flips hit values only, and those still parse
}

TEST_CASE("an empty bitmap attribute is an empty set") {
    MessageBuilder b(family_id, HPNOTIFY_CMD_EVENT);
    b.u64(HPNOTIFY_A_EVENT_SEQ, 1)
        .u64(HPNOTIFY_A_EVENT_TIMESTAMP, 2)
        .u32(HPNOTIFY_A_EVENT_TYPE, HPNOTIFY_EVENT_CPU_OFFLINE)
        .bitmap(HPNOTIFY_A_EVENT_ONLINE_MASK, {});
    const Event event = parse_event(b.bytes());
    REQUIRE(event.online_mask.has_value());
    CHECK(event.online_mask->empty());
}

TEST_CASE("an error or dump status of INT_MIN is EINVAL, not an overflow") {
    constexpr int int_min = std::numeric_limits<int>::min();
    const auto errno_of = [](auto&& parse) {
        try {
            parse();
        } catch (const std::system_error& e) {
            return e.code().value();
        }
        return 0;
    };
    CHECK(errno_of([&] { parse_event(MessageBuilder::control(NLMSG_ERROR, int_min).bytes()); }) == EINVAL);
    CHECK(errno_of([&] { parse_state_messages(concat({state_globals().bytes(), dump_done(int_min)})); }) == EINVAL);
    CHECK(errno_of([&] { parse_state_messages(concat({state_globals().bytes(), dump_done(-EINTR)})); }) == EINTR);
}
