#include "client/callback_registry.hpp"

#include <string>
#include <utility>

#include "hpplace/client.hpp"

namespace hpplace::detail {

CallbackKind kind_of(const Delivery& delivery) noexcept { return static_cast<CallbackKind>(delivery.index()); }

CallbackRegistry::CallbackRegistry(client::LogFunction log) : log_(std::move(log)) {
    thread_ = std::jthread([this](std::stop_token stop) {
        client::name_this_thread("hpplace-calls");
        run(stop);
    });
    std::lock_guard lock(mutex_);
    thread_id_ = thread_.get_id();
}

CallbackRegistry::~CallbackRegistry() { shutdown(); }

std::uint64_t CallbackRegistry::add(CallbackKind kind, Callback callback) {
    std::lock_guard lock(mutex_);
    const std::uint64_t id = next_id_++;
    if (!stopped_) {
        callbacks_.emplace(id, Entry{kind, std::make_shared<Callback>(std::move(callback))});
    }
    return id;
}

void CallbackRegistry::remove(std::uint64_t id) noexcept {
    std::unique_lock lock(mutex_);
    callbacks_.erase(id);
    if (std::this_thread::get_id() != thread_id_) {
        changed_.wait(lock, [&] { return running_ != id; });
    }
}

void CallbackRegistry::post(const Delivery& delivery) {
    std::lock_guard lock(mutex_);
    if (stopped_) {
        return;
    }
    const CallbackKind kind = kind_of(delivery);
    for (const auto& [id, entry] : callbacks_) {
        if (entry.kind == kind) {
            queue_.push_back({id, delivery});
        }
    }
    changed_.notify_all();
}

void CallbackRegistry::post_to(std::uint64_t id, const Delivery& delivery) {
    std::lock_guard lock(mutex_);
    if (stopped_) {
        return;
    }
    queue_.push_back({id, delivery});
    changed_.notify_all();
}

void CallbackRegistry::drain() {
    std::unique_lock lock(mutex_);
    if (std::this_thread::get_id() == thread_id_) {
        return;
    }
    changed_.wait(lock, [&] { return stopped_ || (queue_.empty() && running_ == 0); });
}

void CallbackRegistry::shutdown() noexcept {
    {
        std::lock_guard lock(mutex_);
        if (stopped_) {
            return;
        }
        stopped_ = true;
        queue_.clear();
        callbacks_.clear();
        changed_.notify_all();
    }
    thread_.request_stop();
    if (std::this_thread::get_id() != thread_id_) {
        thread_.join();
    } else {
        thread_.detach();
    }
}

void CallbackRegistry::run(std::stop_token stop) {
    std::unique_lock lock(mutex_);
    for (;;) {
        changed_.wait(lock, stop, [&] { return !queue_.empty(); });
        if (stop.stop_requested()) {
            return;
        }
        Item item = std::move(queue_.front());
        queue_.pop_front();
        const auto it = callbacks_.find(item.id);
        if (it == callbacks_.end()) {
            changed_.notify_all();
            continue;  // unregistered meanwhile
        }
        const std::shared_ptr<Callback> callback = it->second.callback;
        running_ = item.id;
        lock.unlock();
        try {
            (*callback)(item.delivery);
        } catch (const std::exception& e) {
            log_(std::string("a callback threw: ") + e.what());
        } catch (...) {
            log_("a callback threw an unknown exception");
        }
        lock.lock();
        running_ = 0;
        changed_.notify_all();
    }
}

}  // namespace hpplace::detail

namespace hpplace {

Registration::Registration(std::shared_ptr<detail::CallbackRegistry> registry, std::uint64_t id) noexcept
    : registry_(std::move(registry)), id_(id) {}

Registration::Registration(Registration&& other) noexcept
    : registry_(std::move(other.registry_)), id_(std::exchange(other.id_, 0)) {}

Registration& Registration::operator=(Registration&& other) noexcept {
    if (this != &other) {
        reset();
        registry_ = std::move(other.registry_);
        id_ = std::exchange(other.id_, 0);
    }
    return *this;
}

Registration::~Registration() { reset(); }

void Registration::reset() noexcept {
    if (registry_) {
        registry_->remove(id_);
        registry_.reset();
        id_ = 0;
    }
}

}  // namespace hpplace
