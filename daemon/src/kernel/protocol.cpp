#include "kernel/protocol.hpp"

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <exception>
#include <limits>
#include <system_error>

#include "hpnotify.h"

namespace hpplace::kernel {

namespace {

// ---- messages ----

// The errno of a negative error or status the kernel sent. -INT_MIN overflows;
// no errno is that large, so it becomes EINVAL rather than undefined behaviour.
int errno_of(int negative) noexcept {
    return negative == std::numeric_limits<int>::min() ? EINVAL : -negative;
}

const nlmsghdr* header_of(const MessageView& message) {
    return reinterpret_cast<const nlmsghdr*>(message.bytes.data());
}

// The generic netlink header of a message, checked to be there.
const genlmsghdr& genl_header(const MessageView& message, std::string_view what) {
    if (message.bytes.size() < NLMSG_HDRLEN + GENL_HDRLEN) {
        throw ProtocolError(std::string(what) + ": message of " + std::to_string(message.bytes.size()) +
                            " bytes has no room for the generic netlink header");
    }
    return *static_cast<const genlmsghdr*>(mnl_nlmsg_get_payload(header_of(message)));
}

MessageView single_message(ByteView buffer, std::string_view what) {
    auto messages = split_messages(buffer);
    if (messages.size() != 1) {
        throw ProtocolError(std::string(what) + ": expected one netlink message, got " +
                            std::to_string(messages.size()));
    }
    return messages.front();
}

// ---- attributes ----

enum class Shape { u16, u32, u64, string, nested, bitmap };

struct AttributeRule {
    std::uint16_t type;
    Shape shape;
    std::string_view name;
};

std::string_view shape_name(Shape shape) {
    switch (shape) {
        case Shape::u16:
            return "a u16";
        case Shape::u32:
            return "a u32";
        case Shape::u64:
            return "a u64";
        case Shape::string:
            return "a NUL-terminated string";
        case Shape::nested:
            return "a nest";
        case Shape::bitmap:
            return "a bitmap (a multiple of 8 bytes)";
    }
    return "?";
}

bool fits_shape(const nlattr* attr, Shape shape) {
    const auto length = mnl_attr_get_payload_len(attr);
    switch (shape) {
        case Shape::u16:
            return length == sizeof(std::uint16_t) && mnl_attr_validate(attr, MNL_TYPE_U16) == 0;
        case Shape::u32:
            return length == sizeof(std::uint32_t) && mnl_attr_validate(attr, MNL_TYPE_U32) == 0;
        case Shape::u64:
            return length == sizeof(std::uint64_t) && mnl_attr_validate(attr, MNL_TYPE_U64) == 0;
        case Shape::string:
            return mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0;
        case Shape::nested:
            return mnl_attr_validate(attr, MNL_TYPE_NESTED) == 0;
        case Shape::bitmap:
            return length % sizeof(std::uint64_t) == 0;
    }
    return false;
}

// Walks the attributes of a payload with libmnl and checks that they fill it
// exactly: libmnl stops quietly at an attribute that overruns its container,
// which for us is an error.
template <typename Visit>
void walk_attributes(const void* payload, std::size_t length, std::string_view where, Visit&& visit) {
    struct Walk {
        const char* base;
        std::size_t end_of_last = 0;
        Visit* visit;
        std::exception_ptr failure;  // never thrown through libmnl's C frames
    } walk{static_cast<const char*>(payload), 0, &visit, nullptr};
    const auto callback = [](const nlattr* attr, void* data) -> int {
        auto& w = *static_cast<Walk*>(data);
        w.end_of_last =
            static_cast<std::size_t>(reinterpret_cast<const char*>(attr) - w.base) + MNL_ALIGN(attr->nla_len);
        try {
            (*w.visit)(attr);
        } catch (...) {
            w.failure = std::current_exception();
            return MNL_CB_ERROR;
        }
        return MNL_CB_OK;
    };
    mnl_attr_parse_payload(payload, length, callback, &walk);
    if (walk.failure) {
        std::rethrow_exception(walk.failure);
    }
    if (walk.end_of_last < length) {
        const std::size_t left = length - walk.end_of_last;
        std::string detail = std::to_string(left) + " bytes left";
        if (left >= sizeof(nlattr)) {
            nlattr bad;
            std::memcpy(&bad, walk.base + walk.end_of_last, sizeof bad);
            detail = "type " + std::to_string(bad.nla_type & NLA_TYPE_MASK) + ", nla_len " +
                     std::to_string(bad.nla_len) + ", " + detail;
        }
        throw ProtocolError(std::string(where) + ": attribute at offset " + std::to_string(walk.end_of_last) +
                            " overruns its container (" + detail + ")");
    }
}

// The attributes of one container, validated against rules; unknown types are skipped.
class AttributeSet {
public:
    // Every attribute type of the containers parsed here, from the uapi's and
    // nlctrl's *_MAX (the stats' SENT nest is keyed by event type).
    static constexpr std::size_t max_type =
        std::max({std::size_t{HPNOTIFY_A_EVENT_MAX}, std::size_t{HPNOTIFY_A_STATE_MAX}, std::size_t{HPNOTIFY_A_NODE_MAX},
                  std::size_t{HPNOTIFY_A_STATS_MAX}, std::size_t{HPNOTIFY_EVENT_MAX}, std::size_t{CTRL_ATTR_MAX},
                  std::size_t{CTRL_ATTR_MCAST_GRP_MAX}}) +
        1;

    AttributeSet(const void* payload, std::size_t length, std::span<const AttributeRule> rules, std::string_view where)
        : rules_(rules), where_(where) {
        walk_attributes(payload, length, where, [&](const nlattr* attr) {
            const auto type = mnl_attr_get_type(attr);
            const AttributeRule* rule = find_rule(type);
            if (rule == nullptr) {
                return;  // unknown: a newer module, skip it
            }
            if (!fits_shape(attr, rule->shape)) {
                throw ProtocolError(std::string(where_) + ": " + std::string(rule->name) + " has " +
                                    std::to_string(mnl_attr_get_payload_len(attr)) + " bytes, expected " +
                                    std::string(shape_name(rule->shape)));
            }
            by_type_[type] = attr;
        });
    }

    const nlattr* find(std::uint16_t type) const { return type < max_type ? by_type_[type] : nullptr; }

    const nlattr* required(std::uint16_t type) const {
        const nlattr* attr = find(type);
        if (attr == nullptr) {
            const AttributeRule* rule = find_rule(type);
            throw ProtocolError(std::string(where_) + ": missing " +
                                (rule ? std::string(rule->name) : "attribute " + std::to_string(type)));
        }
        return attr;
    }

    std::optional<std::uint64_t> u64(std::uint16_t type) const {
        const nlattr* attr = find(type);
        return attr ? std::optional(read_u64(attr)) : std::nullopt;
    }
    std::optional<std::uint32_t> u32(std::uint16_t type) const {
        const nlattr* attr = find(type);
        return attr ? std::optional(mnl_attr_get_u32(attr)) : std::nullopt;
    }
    std::uint64_t required_u64(std::uint16_t type) const { return read_u64(required(type)); }
    std::uint32_t required_u32(std::uint16_t type) const { return mnl_attr_get_u32(required(type)); }
    CpuSet required_bitmap(std::uint16_t type) const { return read_bitmap(required(type)); }

    static std::uint64_t read_u64(const nlattr* attr) {
        std::uint64_t value = 0;  // u64 attributes may sit 4-byte aligned only
        std::memcpy(&value, mnl_attr_get_payload(attr), sizeof value);
        return value;
    }
    static CpuSet read_bitmap(const nlattr* attr) {
        std::vector<std::uint64_t> words(mnl_attr_get_payload_len(attr) / sizeof(std::uint64_t));
        if (!words.empty()) {  // an empty vector's data() may be null, and memcpy from/to null is UB
            std::memcpy(words.data(), mnl_attr_get_payload(attr), words.size() * sizeof(std::uint64_t));
        }
        return CpuSet::from_words(words);
    }

private:
    const AttributeRule* find_rule(std::uint16_t type) const {
        for (const auto& rule : rules_) {
            if (rule.type == type) {
                return &rule;
            }
        }
        return nullptr;
    }

    std::span<const AttributeRule> rules_;
    std::string_view where_;
    std::array<const nlattr*, max_type> by_type_{};
};

AttributeSet genl_attributes(const MessageView& message, std::span<const AttributeRule> rules, std::string_view where) {
    const auto* nlh = header_of(message);
    const auto* payload = static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + GENL_HDRLEN;
    const std::size_t length = message.bytes.size() - NLMSG_HDRLEN - GENL_HDRLEN;
    return AttributeSet(payload, length, rules, where);
}

AttributeSet nested_attributes(const nlattr* nest, std::span<const AttributeRule> rules, std::string_view where) {
    return AttributeSet(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), rules, where);
}

constexpr AttributeRule event_rules[] = {
    {HPNOTIFY_A_EVENT_SEQ, Shape::u64, "HPNOTIFY_A_EVENT_SEQ"},
    {HPNOTIFY_A_EVENT_TIMESTAMP, Shape::u64, "HPNOTIFY_A_EVENT_TIMESTAMP"},
    {HPNOTIFY_A_EVENT_TYPE, Shape::u32, "HPNOTIFY_A_EVENT_TYPE"},
    {HPNOTIFY_A_EVENT_CPU, Shape::u32, "HPNOTIFY_A_EVENT_CPU"},
    {HPNOTIFY_A_EVENT_NODE, Shape::u32, "HPNOTIFY_A_EVENT_NODE"},
    {HPNOTIFY_A_EVENT_MEM_START, Shape::u64, "HPNOTIFY_A_EVENT_MEM_START"},
    {HPNOTIFY_A_EVENT_MEM_SIZE, Shape::u64, "HPNOTIFY_A_EVENT_MEM_SIZE"},
    {HPNOTIFY_A_EVENT_ONLINE_CPUS, Shape::u32, "HPNOTIFY_A_EVENT_ONLINE_CPUS"},
    {HPNOTIFY_A_EVENT_ONLINE_MASK, Shape::bitmap, "HPNOTIFY_A_EVENT_ONLINE_MASK"},
};

constexpr AttributeRule state_rules[] = {
    {HPNOTIFY_A_STATE_LAST_SEQ, Shape::u64, "HPNOTIFY_A_STATE_LAST_SEQ"},
    {HPNOTIFY_A_STATE_NR_CPU_IDS, Shape::u32, "HPNOTIFY_A_STATE_NR_CPU_IDS"},
    {HPNOTIFY_A_STATE_POSSIBLE_CPUS, Shape::bitmap, "HPNOTIFY_A_STATE_POSSIBLE_CPUS"},
    {HPNOTIFY_A_STATE_PRESENT_CPUS, Shape::bitmap, "HPNOTIFY_A_STATE_PRESENT_CPUS"},
    {HPNOTIFY_A_STATE_ONLINE_CPUS, Shape::bitmap, "HPNOTIFY_A_STATE_ONLINE_CPUS"},
    {HPNOTIFY_A_STATE_NODE, Shape::nested, "HPNOTIFY_A_STATE_NODE"},
};

constexpr AttributeRule node_rules[] = {
    {HPNOTIFY_A_NODE_ID, Shape::u32, "HPNOTIFY_A_NODE_ID"},
    {HPNOTIFY_A_NODE_MEM_BYTES, Shape::u64, "HPNOTIFY_A_NODE_MEM_BYTES"},
    {HPNOTIFY_A_NODE_CPUS, Shape::bitmap, "HPNOTIFY_A_NODE_CPUS"},
};

constexpr AttributeRule stats_rules[] = {
    {HPNOTIFY_A_STATS_LAST_SEQ, Shape::u64, "HPNOTIFY_A_STATS_LAST_SEQ"},
    {HPNOTIFY_A_STATS_SENT, Shape::nested, "HPNOTIFY_A_STATS_SENT"},
    {HPNOTIFY_A_STATS_SEND_FAILURES, Shape::u64, "HPNOTIFY_A_STATS_SEND_FAILURES"},
    {HPNOTIFY_A_STATS_NO_LISTENER, Shape::u64, "HPNOTIFY_A_STATS_NO_LISTENER"},
    {HPNOTIFY_A_STATS_LISTENERS, Shape::u32, "HPNOTIFY_A_STATS_LISTENERS"},
};

constexpr AttributeRule control_rules[] = {
    {CTRL_ATTR_FAMILY_ID, Shape::u16, "CTRL_ATTR_FAMILY_ID"},
    {CTRL_ATTR_FAMILY_NAME, Shape::string, "CTRL_ATTR_FAMILY_NAME"},
    {CTRL_ATTR_VERSION, Shape::u32, "CTRL_ATTR_VERSION"},
    {CTRL_ATTR_MCAST_GROUPS, Shape::nested, "CTRL_ATTR_MCAST_GROUPS"},
};

constexpr AttributeRule group_rules[] = {
    {CTRL_ATTR_MCAST_GRP_NAME, Shape::string, "CTRL_ATTR_MCAST_GRP_NAME"},
    {CTRL_ATTR_MCAST_GRP_ID, Shape::u32, "CTRL_ATTR_MCAST_GRP_ID"},
};

KernelNode parse_node(const nlattr* nest) {
    const AttributeSet attrs = nested_attributes(nest, node_rules, "hpnotify state node");
    KernelNode node;
    node.id = attrs.required_u32(HPNOTIFY_A_NODE_ID);
    node.memory_bytes = attrs.required_u64(HPNOTIFY_A_NODE_MEM_BYTES);
    if (const nlattr* cpus = attrs.find(HPNOTIFY_A_NODE_CPUS)) {
        node.cpus = AttributeSet::read_bitmap(cpus);
    }
    return node;
}

// Every HPNOTIFY_A_STATE_NODE nest of a message, in order (the attribute repeats).
void collect_nodes(const MessageView& message, std::vector<KernelNode>& nodes) {
    const auto* nlh = header_of(message);
    const auto* payload = static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + GENL_HDRLEN;
    const std::size_t length = message.bytes.size() - NLMSG_HDRLEN - GENL_HDRLEN;
    walk_attributes(payload, length, "hpnotify state", [&](const nlattr* attr) {
        if (mnl_attr_get_type(attr) == HPNOTIFY_A_STATE_NODE) {
            nodes.push_back(parse_node(attr));
        }
    });
}

void expect_command(const MessageView& message, std::uint8_t command, std::string_view what) {
    if (message.type < NLMSG_MIN_TYPE) {
        throw ProtocolError(std::string(what) + ": got netlink control message type " + std::to_string(message.type) +
                            " instead of a reply");
    }
    const auto& genl = genl_header(message, what);
    if (genl.cmd != command) {
        throw ProtocolError(std::string(what) + ": unexpected generic netlink command " + std::to_string(genl.cmd) +
                            " (expected " + std::to_string(command) + ")");
    }
}

}  // namespace

// ---- messages ----

std::vector<MessageView> split_messages(ByteView buffer) {
    std::vector<MessageView> messages;
    std::size_t offset = 0;
    while (offset < buffer.size()) {
        const std::size_t left = buffer.size() - offset;
        if (left < sizeof(nlmsghdr)) {
            throw ProtocolError("netlink message too short: " + std::to_string(left) + " bytes, a header needs " +
                                std::to_string(sizeof(nlmsghdr)));
        }
        nlmsghdr header;
        std::memcpy(&header, buffer.data() + offset, sizeof header);
        if (header.nlmsg_len < sizeof(nlmsghdr)) {
            throw ProtocolError("bad netlink message: nlmsg_len " + std::to_string(header.nlmsg_len) +
                                " is smaller than its header");
        }
        if (header.nlmsg_len > left) {
            throw ProtocolError("bad netlink message: nlmsg_len " + std::to_string(header.nlmsg_len) + " exceeds the " +
                                std::to_string(left) + " bytes received");
        }
        messages.push_back(MessageView{
            .type = header.nlmsg_type,
            .flags = header.nlmsg_flags,
            .seq = header.nlmsg_seq,
            .port_id = header.nlmsg_pid,
            .bytes = buffer.subspan(offset, header.nlmsg_len),
        });
        offset += NLMSG_ALIGN(header.nlmsg_len);
    }
    return messages;
}

bool ends_reply(ByteView buffer) {
    for (const auto& message : split_messages(buffer)) {
        if (message.type == NLMSG_DONE || message.type == NLMSG_ERROR) {
            return true;
        }
    }
    return false;
}

void throw_if_error(const MessageView& message, std::string_view what) {
    if (message.type != NLMSG_ERROR) {
        return;
    }
    if (message.bytes.size() < NLMSG_HDRLEN + sizeof(nlmsgerr::error)) {
        throw ProtocolError(std::string(what) + ": NLMSG_ERROR of " + std::to_string(message.bytes.size()) +
                            " bytes has no error code");
    }
    int error = 0;
    std::memcpy(&error, message.bytes.data() + NLMSG_HDRLEN, sizeof error);
    if (error < 0) {
        throw std::system_error(errno_of(error), std::system_category(), std::string(what));
    }
}

// ---- events ----

Event parse_event(ByteView buffer) {
    constexpr std::string_view what = "hpnotify event";
    const MessageView message = single_message(buffer, what);
    throw_if_error(message, what);
    expect_command(message, HPNOTIFY_CMD_EVENT, what);
    const AttributeSet attrs = genl_attributes(message, event_rules, what);

    Event event;
    event.source = EventSource::kernel;
    event.seq = attrs.required_u64(HPNOTIFY_A_EVENT_SEQ);
    event.time_ns = attrs.required_u64(HPNOTIFY_A_EVENT_TIMESTAMP);
    const std::uint32_t type = attrs.required_u32(HPNOTIFY_A_EVENT_TYPE);
    const auto known = event_type_from_kernel(type);
    if (!known) {
        throw ProtocolError(std::string(what) + " #" + std::to_string(event.seq) + ": unknown event type " +
                            std::to_string(type));
    }
    event.type = *known;
    event.cpu = attrs.u32(HPNOTIFY_A_EVENT_CPU);
    event.node = attrs.u32(HPNOTIFY_A_EVENT_NODE);
    event.start = attrs.u64(HPNOTIFY_A_EVENT_MEM_START);
    event.size = attrs.u64(HPNOTIFY_A_EVENT_MEM_SIZE);
    event.online_cpus = attrs.u32(HPNOTIFY_A_EVENT_ONLINE_CPUS);
    if (const nlattr* mask = attrs.find(HPNOTIFY_A_EVENT_ONLINE_MASK)) {
        event.online_mask = AttributeSet::read_bitmap(mask);
    }
    return event;
}

// ---- state ----

KernelState parse_state_messages(ByteView stream) {
    constexpr std::string_view what = "hpnotify state dump";
    KernelState state;
    bool have_globals = false;
    bool done = false;
    bool interrupted = false;
    std::size_t count = 0;
    for (const auto& message : split_messages(stream)) {
        if (done) {
            throw ProtocolError(std::string(what) + ": message after NLMSG_DONE");
        }
        interrupted = interrupted || (message.flags & NLM_F_DUMP_INTR) != 0;
        if (message.type == NLMSG_DONE) {
            // The kernel puts the dump's final status (0 or -errno) after the header.
            if (message.bytes.size() >= NLMSG_HDRLEN + sizeof(int)) {
                int status = 0;
                std::memcpy(&status, message.bytes.data() + NLMSG_HDRLEN, sizeof status);
                if (status < 0) {
                    throw std::system_error(errno_of(status), std::system_category(), std::string(what));
                }
            }
            done = true;
            continue;
        }
        throw_if_error(message, what);
        if (message.type == NLMSG_ERROR || message.type == NLMSG_NOOP) {
            continue;  // an ack
        }
        ++count;
        expect_command(message, HPNOTIFY_CMD_GET_STATE, what);
        if (!have_globals) {
            const AttributeSet attrs = genl_attributes(message, state_rules, what);
            state.last_seq = attrs.required_u64(HPNOTIFY_A_STATE_LAST_SEQ);
            state.nr_cpu_ids = attrs.required_u32(HPNOTIFY_A_STATE_NR_CPU_IDS);
            state.possible = attrs.required_bitmap(HPNOTIFY_A_STATE_POSSIBLE_CPUS);
            state.present = attrs.required_bitmap(HPNOTIFY_A_STATE_PRESENT_CPUS);
            state.online = attrs.required_bitmap(HPNOTIFY_A_STATE_ONLINE_CPUS);
            have_globals = true;
        } else {
            genl_attributes(message, state_rules, what);  // validates sizes
        }
        collect_nodes(message, state.nodes);
    }
    if (!done) {
        throw ProtocolError(std::string(what) + " truncated: no NLMSG_DONE after " + std::to_string(count) +
                            " messages");
    }
    if (interrupted) {
        throw DumpInterrupted();
    }
    if (!have_globals) {
        throw ProtocolError(std::string(what) + ": no message with the global attributes");
    }
    return state;
}

// ---- stats ----

KernelStats parse_stats(ByteView buffer) {
    constexpr std::string_view what = "hpnotify stats";
    const MessageView message = single_message(buffer, what);
    throw_if_error(message, what);
    expect_command(message, HPNOTIFY_CMD_GET_STATS, what);
    const AttributeSet attrs = genl_attributes(message, stats_rules, what);

    KernelStats stats;
    stats.last_seq = attrs.required_u64(HPNOTIFY_A_STATS_LAST_SEQ);
    stats.send_failures = attrs.required_u64(HPNOTIFY_A_STATS_SEND_FAILURES);
    stats.no_listener = attrs.required_u64(HPNOTIFY_A_STATS_NO_LISTENER);
    stats.listeners = attrs.required_u32(HPNOTIFY_A_STATS_LISTENERS) != 0;
    const nlattr* sent = attrs.required(HPNOTIFY_A_STATS_SENT);
    walk_attributes(
        mnl_attr_get_payload(sent), mnl_attr_get_payload_len(sent), "hpnotify stats sent", [&](const nlattr* counter) {
            const auto type = event_type_from_kernel(mnl_attr_get_type(counter));
            if (!type) {
                return;  // a type this program does not know yet
            }
            if (mnl_attr_get_payload_len(counter) != sizeof(std::uint64_t)) {
                throw ProtocolError(std::string(what) + ": counter of " + std::string(to_string(*type)) + " has " +
                                    std::to_string(mnl_attr_get_payload_len(counter)) + " bytes, expected a u64");
            }
            stats.sent[*type] = AttributeSet::read_u64(counter);
        });
    return stats;
}

// ---- nlctrl ----

std::optional<std::uint32_t> FamilyInfo::group(std::string_view group_name) const {
    const auto it = multicast_groups.find(group_name);
    return it == multicast_groups.end() ? std::nullopt : std::optional(it->second);
}

ControlMessage parse_control_message(ByteView buffer) {
    constexpr std::string_view what = "nlctrl";
    const MessageView message = single_message(buffer, what);
    throw_if_error(message, what);
    if (message.type != GENL_ID_CTRL) {
        throw ProtocolError(std::string(what) + ": message of type " + std::to_string(message.type) +
                            " is not from nlctrl");
    }
    ControlMessage control;
    control.command = genl_header(message, what).cmd;
    const AttributeSet attrs = genl_attributes(message, control_rules, what);
    control.family.id = mnl_attr_get_u16(attrs.required(CTRL_ATTR_FAMILY_ID));
    control.family.name = mnl_attr_get_str(attrs.required(CTRL_ATTR_FAMILY_NAME));
    control.family.version = attrs.u32(CTRL_ATTR_VERSION).value_or(0);
    if (const nlattr* groups = attrs.find(CTRL_ATTR_MCAST_GROUPS)) {
        walk_attributes(
            mnl_attr_get_payload(groups), mnl_attr_get_payload_len(groups), "nlctrl multicast groups",
            [&](const nlattr* group) {
                if (mnl_attr_validate(group, MNL_TYPE_NESTED) != 0) {
                    throw ProtocolError("nlctrl: multicast group entry is not a nest");
                }
                const AttributeSet entry = nested_attributes(group, group_rules, "nlctrl multicast group");
                control.family.multicast_groups[mnl_attr_get_str(entry.required(CTRL_ATTR_MCAST_GRP_NAME))] =
                    entry.required_u32(CTRL_ATTR_MCAST_GRP_ID);
            });
    }
    return control;
}

// ---- requests ----

namespace {

Bytes build_genl_request(std::uint16_t type, std::uint16_t flags, std::uint8_t command, std::uint8_t version,
                         std::uint32_t seq, std::string_view family_name = {}) {
    Bytes buffer(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buffer.data());
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = flags;
    nlh->nlmsg_seq = seq;
    auto* genl = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(genlmsghdr)));
    genl->cmd = command;
    genl->version = version;
    if (!family_name.empty()) {
        const std::string name(family_name);
        if (!mnl_attr_put_strz_check(nlh, buffer.size(), CTRL_ATTR_FAMILY_NAME, name.c_str())) {
            throw std::invalid_argument("generic netlink family name too long: " + name);
        }
    }
    buffer.resize(nlh->nlmsg_len);
    return buffer;
}

}  // namespace

Bytes build_get_family_request(std::string_view family_name, std::uint32_t seq) {
    if (family_name.empty() || family_name.size() >= GENL_NAMSIZ) {
        throw std::invalid_argument("bad generic netlink family name \"" + std::string(family_name) + "\" (1 to " +
                                    std::to_string(GENL_NAMSIZ - 1) + " characters)");
    }
    return build_genl_request(GENL_ID_CTRL, NLM_F_REQUEST, CTRL_CMD_GETFAMILY, 1, seq, family_name);
}

Bytes build_get_state_request(std::uint16_t family_id, std::uint32_t seq) {
    return build_genl_request(family_id, NLM_F_REQUEST | NLM_F_DUMP, HPNOTIFY_CMD_GET_STATE, HPNOTIFY_FAMILY_VERSION,
                              seq);
}

Bytes build_get_stats_request(std::uint16_t family_id, std::uint32_t seq) {
    return build_genl_request(family_id, NLM_F_REQUEST, HPNOTIFY_CMD_GET_STATS, HPNOTIFY_FAMILY_VERSION, seq);
}

// ---- sequence numbers ----

SequenceCheck check_sequence(std::optional<std::uint64_t> previous, std::uint64_t seq) noexcept {
    if (!previous) {
        return {SequenceCheck::Kind::first};
    }
    if (seq <= *previous) {
        return {SequenceCheck::Kind::backwards};
    }
    if (seq - *previous == 1) {
        return {SequenceCheck::Kind::in_order};
    }
    return {SequenceCheck::Kind::gap, *previous + 1, seq - 1};
}

}  // namespace hpplace::kernel
