#include <doctest/doctest.h>

#include <cerrno>
#include <variant>

#include "hpnotify.h"
#include "hpnotify_message_builder.hpp"
#include "kernel/notification_decoder.hpp"

using namespace hpplace;
using namespace hpplace::kernel;
using hpplace::kernel::testing::concat;
using hpplace::kernel::testing::MessageBuilder;

namespace {

FamilyInfo hpnotify_family(std::uint16_t id, std::uint32_t events_group) {
    FamilyInfo family;
    family.id = id;
    family.name = HPNOTIFY_FAMILY_NAME;
    family.version = HPNOTIFY_FAMILY_VERSION;
    family.multicast_groups = {{HPNOTIFY_MCGRP_EVENTS, events_group}};
    return family;
}

Bytes event(std::uint16_t family_id, std::uint64_t seq, std::uint32_t type = HPNOTIFY_EVENT_CPU_ONLINE) {
    MessageBuilder b(family_id, HPNOTIFY_CMD_EVENT);
    b.u64(HPNOTIFY_A_EVENT_SEQ, seq).u64(HPNOTIFY_A_EVENT_TIMESTAMP, seq * 1000).u32(HPNOTIFY_A_EVENT_TYPE, type);
    return b.bytes();
}

Bytes control(std::uint8_t command, const std::string& name, std::uint16_t id, std::uint32_t events_group = 0) {
    MessageBuilder b(GENL_ID_CTRL, command);
    b.u16(CTRL_ATTR_FAMILY_ID, id).strz(CTRL_ATTR_FAMILY_NAME, name).u32(CTRL_ATTR_VERSION, 1);
    if (events_group != 0) {
        b.begin_nest(CTRL_ATTR_MCAST_GROUPS)
            .begin_nest(1)
            .strz(CTRL_ATTR_MCAST_GRP_NAME, HPNOTIFY_MCGRP_EVENTS)
            .u32(CTRL_ATTR_MCAST_GRP_ID, events_group)
            .end_nest()
            .end_nest();
    }
    return b.bytes();
}

std::vector<std::uint64_t> seqs_of(const std::vector<Notification>& notifications) {
    std::vector<std::uint64_t> seqs;
    for (const auto& n : notifications) {
        if (const auto* e = std::get_if<Event>(&n)) {
            seqs.push_back(e->seq);
        }
    }
    return seqs;
}

}  // namespace

TEST_CASE("decoder: events in order pass through, a jump reports the gap first") {
    NotificationDecoder decoder(hpnotify_family(30, 5));
    auto first = decoder.decode(concat({event(30, 1), event(30, 2)}));
    CHECK(seqs_of(first.notifications) == std::vector<std::uint64_t>{1, 2});
    CHECK(first.notifications.size() == 2);

    auto jump = decoder.decode(event(30, 6));
    REQUIRE(jump.notifications.size() == 2);
    const auto* loss = std::get_if<Loss>(&jump.notifications[0]);
    REQUIRE(loss);
    CHECK(loss->cause == Loss::Cause::gap);
    CHECK(loss->first_lost == 3);
    CHECK(loss->last_lost == 5);
    CHECK(loss->count() == 3U);
    CHECK(loss->detail == "sequence gap: 3 events lost (seq 3..5)");
    CHECK(std::get<Event>(jump.notifications[1]).seq == 6);

    auto one = decoder.decode(event(30, 8));
    CHECK(std::get<Loss>(one.notifications[0]).detail == "sequence gap: 1 event lost (seq 7)");
    CHECK(decoder.counters() == StreamCounters{.received = 4, .last_seq = 8, .lost = 4, .overruns = 0});
}

TEST_CASE("decoder: a gap counts exactly the events that never arrived") {
    NotificationDecoder decoder(hpnotify_family(30, 5));
    decoder.decode(event(30, 1));
    auto after = decoder.decode(concat({event(30, 10), event(30, 11)}));
    REQUIRE(after.notifications.size() == 3);
    CHECK(std::get<Loss>(after.notifications[0]).count() == 8U);
    CHECK(seqs_of(after.notifications) == std::vector<std::uint64_t>{10, 11});
    CHECK(decoder.counters() == StreamCounters{.received = 3, .last_seq = 11, .lost = 8, .overruns = 0});
}

TEST_CASE("decoder: overruns count one lost event at once and the gap they left exactly once") {
    NotificationDecoder decoder(hpnotify_family(30, 5));
    decoder.decode(event(30, 1));
    CHECK(decoder.overrun().cause == Loss::Cause::overrun);
    decoder.overrun();
    CHECK(decoder.counters().overruns == 2);
    CHECK(decoder.counters().lost == 1);
    // Events 2..5 never arrived: the one counted ahead is among them.
    auto gap = decoder.decode(event(30, 6));
    CHECK(std::get<Loss>(gap.notifications[0]).count() == 4U);
    CHECK(decoder.counters().lost == 4);
    // A later gap owes nothing to that overrun.
    decoder.decode(event(30, 8));
    CHECK(decoder.counters().lost == 5);

    // An overrun that took no event of ours (the next one is in order) stays one.
    decoder.overrun();
    decoder.decode(event(30, 9));
    decoder.decode(event(30, 11));
    CHECK(decoder.counters().lost == 7);
    CHECK(decoder.counters().overruns == 3);

    // A malformed event is counted ahead the same way.
    const Loss bad = decoder.malformed("truncated datagram");
    CHECK(bad.cause == Loss::Cause::malformed);
    CHECK(decoder.counters().lost == 8);
    decoder.decode(event(30, 13));
    CHECK(decoder.counters().lost == 8);
    CHECK(decoder.counters().received == 6);
}

TEST_CASE("decoder: a sequence number going back is a verdict once, then counting goes on from it") {
    NotificationDecoder decoder(hpnotify_family(30, 5));
    decoder.decode(concat({event(30, 40), event(30, 41)}));
    auto back = decoder.decode(event(30, 3));
    REQUIRE(back.notifications.size() == 2);
    CHECK(std::get<Loss>(back.notifications[0]).cause == Loss::Cause::rewound);
    CHECK(std::get<Loss>(back.notifications[0]).detail.find("went back to 3") != std::string::npos);
    CHECK(std::get<Event>(back.notifications[1]).seq == 3);
    CHECK(decoder.decode(event(30, 4)).notifications.size() == 1);
    CHECK(decoder.counters().lost == 0);
    CHECK(decoder.counters().last_seq == 4);
}

TEST_CASE("decoder: expect_after a resync hides events covered by the dump") {
    NotificationDecoder decoder(hpnotify_family(30, 5));
    decoder.expect_after(10);
    // Queued before the dump: passed on, neither a loss nor a rewind.
    auto covered = decoder.decode(concat({event(30, 9), event(30, 10)}));
    CHECK(seqs_of(covered.notifications) == std::vector<std::uint64_t>{9, 10});
    CHECK(covered.notifications.size() == 2);
    auto next = decoder.decode(event(30, 11));
    CHECK(next.notifications.size() == 1);
    auto later = decoder.decode(event(30, 14));
    CHECK(std::get<Loss>(later.notifications[0]).first_lost == 12);
    // Past the dump, going back is news again.
    CHECK(std::get<Loss>(decoder.decode(event(30, 9)).notifications[0]).cause == Loss::Cause::rewound);
}

TEST_CASE("decoder: malformed events and foreign messages") {
    NotificationDecoder decoder(hpnotify_family(30, 5));
    auto bad_type = decoder.decode(event(30, 1, 99));
    REQUIRE(bad_type.notifications.size() == 1);
    CHECK(std::get<Loss>(bad_type.notifications[0]).cause == Loss::Cause::malformed);
    CHECK(std::get<Loss>(bad_type.notifications[0]).detail.find("unknown event type 99") != std::string::npos);

    Bytes cut = event(30, 2);
    cut.resize(cut.size() - 4);
    auto truncated = decoder.decode(cut);
    REQUIRE(truncated.notifications.size() == 1);
    CHECK(std::get<Loss>(truncated.notifications[0]).cause == Loss::Cause::malformed);

    // other families, and nlctrl news about them, are none of our business
    CHECK(decoder.decode(event(31, 7)).notifications.empty());
    CHECK(decoder.decode(control(CTRL_CMD_DELFAMILY, "thermal", 31)).notifications.empty());
    CHECK(decoder.decode(MessageBuilder::control(NLMSG_ERROR, -EPERM).bytes()).notifications.empty());
    CHECK(decoder.family()->id == 30);
    // Both malformed events are counted lost (one ahead of a gap that never came).
    CHECK(decoder.counters().lost == 1);
    CHECK(decoder.counters().received == 0);
}

TEST_CASE("decoder: the module goes and comes back with a new family id") {
    NotificationDecoder decoder(hpnotify_family(30, 5));
    decoder.decode(concat({event(30, 1), event(30, 2)}));

    auto gone = decoder.decode(control(CTRL_CMD_DELFAMILY, HPNOTIFY_FAMILY_NAME, 30));
    REQUIRE(gone.notifications.size() == 1);
    CHECK(std::holds_alternative<FamilyGone>(gone.notifications[0]));
    CHECK_FALSE(decoder.family());
    CHECK(decoder.decode(event(30, 3)).notifications.empty());  // a stale id is not listened to

    auto back = decoder.decode(control(CTRL_CMD_NEWFAMILY, HPNOTIFY_FAMILY_NAME, 34, 9));
    REQUIRE(back.notifications.size() == 1);
    CHECK(std::get<FamilyBack>(back.notifications[0]).family.id == 34);
    CHECK(back.group_to_join == 9U);
    // the new instance counts from 1 again: no gap, no loss
    auto restart = decoder.decode(event(34, 1));
    CHECK(restart.notifications.size() == 1);
    CHECK(seqs_of(restart.notifications) == std::vector<std::uint64_t>{1});

    // the same NEWFAMILY twice does not resubscribe
    CHECK(decoder.decode(control(CTRL_CMD_NEWFAMILY, HPNOTIFY_FAMILY_NAME, 34, 9)).notifications.empty());
}

TEST_CASE("decoder: a reload whose removal went unseen, and a family without the events group") {
    NotificationDecoder decoder(hpnotify_family(30, 5));
    auto swapped = decoder.decode(control(CTRL_CMD_NEWFAMILY, HPNOTIFY_FAMILY_NAME, 35, 10));
    REQUIRE(swapped.notifications.size() == 2);
    CHECK(std::holds_alternative<FamilyGone>(swapped.notifications[0]));
    CHECK(std::holds_alternative<FamilyBack>(swapped.notifications[1]));

    NotificationDecoder waiting(std::nullopt);
    auto groupless = waiting.decode(control(CTRL_CMD_NEWFAMILY, HPNOTIFY_FAMILY_NAME, 36));
    REQUIRE(groupless.notifications.size() == 1);
    CHECK(std::get<Loss>(groupless.notifications[0]).detail.find("no \"events\" multicast group") != std::string::npos);
    CHECK_FALSE(groupless.group_to_join);
    CHECK_FALSE(waiting.family());
}
