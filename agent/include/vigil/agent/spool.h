// The agent's store-and-forward spool: a small RocksDB under the state directory
// holding every scored event until the collector acks it. Seqs are assigned here,
// strictly increasing and never reused (the next seq is persisted with each
// append). Bounded: when over `max_bytes`, the lowest-score events go first and
// are counted. Thread-safe: the agent loop appends, the sender reads and acks.
#pragma once

#include <rocksdb/db.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "vigil/result.h"
#include "vigil/v1/agent.pb.h"

namespace vigil::agent {

struct SpoolOptions {
  std::uint64_t max_bytes = 256ULL << 20;
  bool sync = false;  // a process crash loses nothing either way; a power cut may lose the tail
};

struct SpoolStats {
  std::uint64_t events = 0;  // unacked events held
  std::uint64_t bytes = 0;
  std::uint64_t appended = 0;
  std::uint64_t acked = 0;
  std::uint64_t dropped = 0;  // lowest-score events dropped to respect max_bytes
  std::uint64_t next_seq = 1;
  std::uint64_t acked_seq = 0;
  std::uint64_t oldest_ts_ns = 0;  // of the oldest unacked event, 0 when empty
};

class Spool {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Spool>> open(const std::filesystem::path& dir,
                                                           SpoolOptions options = {});
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Assigns seqs to `events` (in order) and stores them in one write; then trims
  // to the bound.
  [[nodiscard]] Result<void> append(std::vector<v1::Event>& events);
  // Up to `max` events with seq > `after`, oldest first. Empty batch: nothing newer.
  [[nodiscard]] Result<void> read(std::uint64_t after, std::size_t max, v1::EventBatch& out);
  // The collector holds everything <= seq durably: forget it.
  [[nodiscard]] Result<void> ack(std::uint64_t seq);

  [[nodiscard]] std::uint64_t spool_id() const { return spool_id_; }
  [[nodiscard]] SpoolStats stats() const;

 private:
  Spool(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> cfs,
        SpoolOptions options);
  [[nodiscard]] Result<void> recover();
  [[nodiscard]] Result<void> trim_locked();
  void refresh_oldest_locked();

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;  // default (meta), events
  SpoolOptions options_;
  std::uint64_t spool_id_ = 0;
  mutable std::mutex mu_;
  SpoolStats stats_;
};

}  // namespace vigil::agent
