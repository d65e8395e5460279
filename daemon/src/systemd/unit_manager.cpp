#include "systemd/unit_manager.hpp"

namespace hpplace {

std::vector<std::uint8_t> to_dbus_mask(const CpuSet& set) {
    std::vector<std::uint8_t> bytes;
    bytes.resize((set.end() + 7) / 8, 0);
    set.for_each([&](unsigned id) { bytes[id / 8] = static_cast<std::uint8_t>(bytes[id / 8] | (1U << (id % 8))); });
    return bytes;
}

CpuSet from_dbus_mask(const std::vector<std::uint8_t>& bytes) {
    CpuSet set;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        for (unsigned bit = 0; bit < 8; ++bit) {
            if ((bytes[i] >> bit) & 1U) {
                set.set(static_cast<unsigned>(i * 8 + bit));
            }
        }
    }
    return set;
}

}  // namespace hpplace
