#pragma once

// Builds netlink messages byte for byte as the kernel would send them, with
// libmnl, for the hpnotify protocol tests.

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "hpnotify.h"
#include "kernel/protocol.hpp"

namespace hpplace::kernel::testing {

class MessageBuilder {
public:
    // A generic netlink message: nlmsghdr + genlmsghdr.
    MessageBuilder(std::uint16_t type, std::uint8_t command, std::uint16_t flags = 0, std::uint32_t seq = 0)
        : buffer_(16384) {
        nlh_ = mnl_nlmsg_put_header(buffer_.data());
        nlh_->nlmsg_type = type;
        nlh_->nlmsg_flags = flags;
        nlh_->nlmsg_seq = seq;
        auto* genl = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(genlmsghdr)));
        genl->cmd = command;
        genl->version = 1;
    }

    // A bare control message (NLMSG_DONE carrying a status, NLMSG_ERROR ...).
    static MessageBuilder control(std::uint16_t type, int status, std::uint16_t flags = 0, std::uint32_t seq = 0) {
        MessageBuilder b;
        b.nlh_ = mnl_nlmsg_put_header(b.buffer_.data());
        b.nlh_->nlmsg_type = type;
        b.nlh_->nlmsg_flags = flags;
        b.nlh_->nlmsg_seq = seq;
        if (type == NLMSG_ERROR) {
            auto* err = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(b.nlh_, sizeof(nlmsgerr)));
            err->error = status;
        } else {
            auto* value = static_cast<int*>(mnl_nlmsg_put_extra_header(b.nlh_, sizeof(int)));
            *value = status;
        }
        return b;
    }

    MessageBuilder& u16(std::uint16_t type, std::uint16_t value) {
        mnl_attr_put_u16(nlh_, type, value);
        return *this;
    }
    MessageBuilder& u32(std::uint16_t type, std::uint32_t value) {
        mnl_attr_put_u32(nlh_, type, value);
        return *this;
    }
    MessageBuilder& u64(std::uint16_t type, std::uint64_t value) {
        mnl_attr_put_u64(nlh_, type, value);
        return *this;
    }
    MessageBuilder& strz(std::uint16_t type, const std::string& value) {
        mnl_attr_put_strz(nlh_, type, value.c_str());
        return *this;
    }
    MessageBuilder& raw(std::uint16_t type, std::size_t length, const void* data) {
        mnl_attr_put(nlh_, type, length, data);
        return *this;
    }
    MessageBuilder& bitmap(std::uint16_t type, std::initializer_list<std::uint64_t> words) {
        const std::vector<std::uint64_t> w(words);
        mnl_attr_put(nlh_, type, w.size() * sizeof(std::uint64_t), w.data());
        return *this;
    }
    MessageBuilder& begin_nest(std::uint16_t type) {
        nests_.push_back(mnl_attr_nest_start(nlh_, type));
        return *this;
    }
    MessageBuilder& end_nest() {
        mnl_attr_nest_end(nlh_, nests_.back());
        nests_.pop_back();
        return *this;
    }

    nlmsghdr* header() { return nlh_; }

    Bytes bytes() const {
        const auto* begin = buffer_.data();
        return Bytes(begin, begin + nlh_->nlmsg_len);
    }

private:
    MessageBuilder() : buffer_(16384) {}

    Bytes buffer_;
    nlmsghdr* nlh_ = nullptr;
    std::vector<nlattr*> nests_;
};

// Several messages back to back, as in one datagram or a concatenated dump.
inline Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& part : parts) {
        out.insert(out.end(), part.begin(), part.end());
        out.resize(NLMSG_ALIGN(out.size()), std::byte{0});
    }
    return out;
}

// ---- what the module and nlctrl send, as the protocol tests and the fuzz seeds use it ----

inline constexpr std::uint16_t family_id = 0x1f;

inline MessageBuilder cpu_online_event(std::uint64_t seq) {
    MessageBuilder b(family_id, HPNOTIFY_CMD_EVENT);
    b.u64(HPNOTIFY_A_EVENT_SEQ, seq)
        .u64(HPNOTIFY_A_EVENT_TIMESTAMP, 123456789)
        .u32(HPNOTIFY_A_EVENT_TYPE, HPNOTIFY_EVENT_CPU_ONLINE)
        .u32(HPNOTIFY_A_EVENT_CPU, 2)
        .u32(HPNOTIFY_A_EVENT_NODE, 1)
        .u32(HPNOTIFY_A_EVENT_ONLINE_CPUS, 3)
        .bitmap(HPNOTIFY_A_EVENT_ONLINE_MASK, {0b111});
    return b;
}

inline MessageBuilder state_globals(std::uint16_t flags = NLM_F_MULTI) {
    MessageBuilder b(family_id, HPNOTIFY_CMD_GET_STATE, flags, 7);
    b.u64(HPNOTIFY_A_STATE_LAST_SEQ, 42)
        .u32(HPNOTIFY_A_STATE_NR_CPU_IDS, 4)
        .bitmap(HPNOTIFY_A_STATE_POSSIBLE_CPUS, {0xf})
        .bitmap(HPNOTIFY_A_STATE_PRESENT_CPUS, {0x7})
        .bitmap(HPNOTIFY_A_STATE_ONLINE_CPUS, {0x3});
    return b;
}

inline MessageBuilder state_node(unsigned id, std::uint64_t memory, std::uint64_t cpus, std::uint16_t flags = NLM_F_MULTI) {
    MessageBuilder b(family_id, HPNOTIFY_CMD_GET_STATE, flags, 7);
    b.begin_nest(HPNOTIFY_A_STATE_NODE)
        .u32(HPNOTIFY_A_NODE_ID, id)
        .u64(HPNOTIFY_A_NODE_MEM_BYTES, memory)
        .bitmap(HPNOTIFY_A_NODE_CPUS, {cpus})
        .end_nest();
    return b;
}

inline Bytes dump_done(int status = 0) { return MessageBuilder::control(NLMSG_DONE, status, NLM_F_MULTI, 7).bytes(); }

inline MessageBuilder stats_reply() {
    MessageBuilder b(family_id, HPNOTIFY_CMD_GET_STATS);
    b.u64(HPNOTIFY_A_STATS_LAST_SEQ, 9)
        .begin_nest(HPNOTIFY_A_STATS_SENT)
        .u64(HPNOTIFY_EVENT_CPU_ONLINE, 5)
        .u64(HPNOTIFY_EVENT_MEM_ONLINE, 4)
        .u64(HPNOTIFY_EVENT_MAX + 7, 99)  // a type from a newer module
        .end_nest()
        .u64(HPNOTIFY_A_STATS_SEND_FAILURES, 1)
        .u64(HPNOTIFY_A_STATS_NO_LISTENER, 12)
        .u32(HPNOTIFY_A_STATS_LISTENERS, 1);
    return b;
}

inline MessageBuilder family_reply(std::uint8_t command = CTRL_CMD_NEWFAMILY) {
    MessageBuilder b(GENL_ID_CTRL, command);
    b.u16(CTRL_ATTR_FAMILY_ID, family_id)
        .strz(CTRL_ATTR_FAMILY_NAME, HPNOTIFY_FAMILY_NAME)
        .u32(CTRL_ATTR_VERSION, HPNOTIFY_FAMILY_VERSION)
        .u32(CTRL_ATTR_HDRSIZE, 0)
        .u32(CTRL_ATTR_MAXATTR, HPNOTIFY_A_EVENT_MAX)
        .begin_nest(CTRL_ATTR_MCAST_GROUPS)
        .begin_nest(1)
        .strz(CTRL_ATTR_MCAST_GRP_NAME, HPNOTIFY_MCGRP_EVENTS)
        .u32(CTRL_ATTR_MCAST_GRP_ID, 11)
        .end_nest()
        .begin_nest(2)
        .strz(CTRL_ATTR_MCAST_GRP_NAME, "other")
        .u32(CTRL_ATTR_MCAST_GRP_ID, 12)
        .end_nest()
        .end_nest();
    return b;
}

}  // namespace hpplace::kernel::testing
