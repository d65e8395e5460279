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

}  // namespace hpplace::kernel::testing
