// examples/demo/thread_log.hpp — which threads ran what: the demo's evidence that each kind of
// work ran where the routing rules say it runs.
#pragma once

#include <pthread.h>

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

// ThreadLog — records, per role ("SQLite statements", "request fibers", ...), the OS threads that
// ran it, numbered T1, T2, ... in the order they were first seen and named as the OS names them.
// Called from fibers and plain threads alike; the lock is never held across a suspension.
class ThreadLog {
 public:
  void note(const std::string& role) {
    std::lock_guard lock(m_);
    auto [it, added] = numbers_.try_emplace(std::this_thread::get_id(), static_cast<int>(numbers_.size()) + 1);
    if (added) names_[it->second] = thread_name();
    roles_[role].insert(it->second);
  }
  // "2 threads: T3 fb-worker-1, T9 fb-worker-0"; long lists are cut after a few names.
  std::string describe(const std::string& role) {
    std::lock_guard lock(m_);
    const std::set<int>& ts = roles_[role];
    std::string out = std::to_string(ts.size()) + (ts.size() == 1 ? " thread:" : " threads:");
    int shown = 0;
    for (int t : ts) {
      if (++shown > 4) return out + " ...";
      out += (shown > 1 ? ", T" : " T") + std::to_string(t) + " " + names_[t];
    }
    return out;
  }
  std::size_t count(const std::string& role) {
    std::lock_guard lock(m_);
    return roles_[role].size();
  }

 private:
  static std::string thread_name() {
    char name[32] = "?";
    pthread_getname_np(pthread_self(), name, sizeof name);
    return name;
  }
  std::mutex m_;
  std::map<std::thread::id, int> numbers_;
  std::map<int, std::string> names_;
  std::map<std::string, std::set<int>> roles_;
};

inline ThreadLog threads;
