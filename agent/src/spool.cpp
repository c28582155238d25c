#include "vigil/agent/spool.h"

#include <fmt/format.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstring>
#include <random>

namespace vigil::agent {
namespace {

// Reads of unacked events only: every ack is one range tombstone over [0, seq],
// so an iterator that never goes below acked_seq + 1 can skip range-deletion
// processing. RocksDB 7.8 re-fragments all the memtable's range tombstones for
// every new iterator; with one tombstone per acked batch that cost grew with
// the agent's uptime until the memtable flushed (a profile at 1 000 events/s
// put most of the agent's CPU there).
rocksdb::ReadOptions unacked_reads() {
  rocksdb::ReadOptions ro;
  ro.ignore_range_deletions = true;
  return ro;
}

enum : std::size_t { kMeta, kEvents };
constexpr const char* kNextSeqKey = "next_seq";
constexpr const char* kAckedKey = "acked_seq";
constexpr const char* kSpoolIdKey = "spool_id";
// events value: score(1) | ts_ns(8) | serialized v1::Event
constexpr std::size_t kValueHeader = 9;

void put_be64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

std::uint64_t get_be64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  }
  return v;
}

std::string seq_key(std::uint64_t seq) {
  std::string k;
  put_be64(k, seq);
  return k;
}

Error db_error(const char* what, const rocksdb::Status& s) {
  return Error{ErrorCode::kIo, fmt::format("spool {}: {}", what, s.ToString())};
}

}  // namespace

Spool::Spool(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> cfs,
             SpoolOptions options)
    : db_(std::move(db)), cfs_(std::move(cfs)), options_(options) {}

Spool::~Spool() {
  for (auto* cf : cfs_) {
    db_->DestroyColumnFamilyHandle(cf).PermitUncheckedError();
  }
  db_->Close().PermitUncheckedError();
}

Result<std::unique_ptr<Spool>> Spool::open(const std::filesystem::path& dir, SpoolOptions options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return make_error(ErrorCode::kIo, fmt::format("spool dir {}: {}", dir.string(), ec.message()));
  }
  rocksdb::DBOptions db_opts;
  db_opts.create_if_missing = true;
  db_opts.create_missing_column_families = true;
  db_opts.max_background_jobs = 1;
  db_opts.keep_log_file_num = 2;
  rocksdb::ColumnFamilyOptions cf_opts;
  cf_opts.write_buffer_size = 8 << 20;
  std::vector<rocksdb::ColumnFamilyDescriptor> descs = {
      {rocksdb::kDefaultColumnFamilyName, cf_opts}, {"events", cf_opts}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(db_opts, dir.string(), descs, &handles, &raw);
  if (!s.ok()) {
    return make_error(ErrorCode::kIo, fmt::format("spool open {}: {}", dir.string(), s.ToString()));
  }
  std::unique_ptr<Spool> spool(
      new Spool(std::unique_ptr<rocksdb::DB>(raw), std::move(handles), options));
  if (auto r = spool->recover(); !r) {
    return std::unexpected(r.error());
  }
  return spool;
}

Result<void> Spool::recover() {
  std::lock_guard lock(mu_);
  std::string v;
  auto s = db_->Get({}, cfs_[kMeta], kSpoolIdKey, &v);
  if (s.ok() && v.size() == 8) {
    spool_id_ = get_be64(v.data());
  } else if (s.IsNotFound()) {
    std::random_device rd;
    spool_id_ = (static_cast<std::uint64_t>(rd()) << 32) | rd();
    std::string id;
    put_be64(id, spool_id_);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (auto w = db_->Put(wo, cfs_[kMeta], kSpoolIdKey, id); !w.ok()) {
      return std::unexpected(db_error("write id", w));
    }
  } else {
    return std::unexpected(db_error("read id", s));
  }
  if (db_->Get({}, cfs_[kMeta], kNextSeqKey, &v).ok() && v.size() == 8) {
    stats_.next_seq = get_be64(v.data());
  }
  if (db_->Get({}, cfs_[kMeta], kAckedKey, &v).ok() && v.size() == 8) {
    stats_.acked_seq = get_be64(v.data());
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cfs_[kEvents]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ++stats_.events;
    stats_.bytes += it->key().size() + it->value().size();
    if (it->key().size() == 8) {
      // The persisted next seq is written with every append; this only guards
      // against a meta key lost with a damaged WAL tail.
      stats_.next_seq = std::max(stats_.next_seq, get_be64(it->key().data()) + 1);
    }
  }
  if (!it->status().ok()) {
    return std::unexpected(db_error("scan", it->status()));
  }
  refresh_oldest_locked();
  return {};
}

void Spool::refresh_oldest_locked() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(unacked_reads(), cfs_[kEvents]));
  it->Seek(seq_key(stats_.acked_seq + 1));
  stats_.oldest_ts_ns =
      it->Valid() && it->value().size() >= kValueHeader ? get_be64(it->value().data() + 1) : 0;
}

Result<void> Spool::append(std::vector<v1::Event>& events) {
  if (events.empty()) {
    return {};
  }
  std::lock_guard lock(mu_);
  rocksdb::WriteBatch wb;
  std::uint64_t seq = stats_.next_seq;
  std::uint64_t bytes = 0;
  std::string value;
  for (auto& e : events) {
    e.set_seq(seq);
    const auto score = static_cast<std::uint8_t>(std::min<std::uint32_t>(e.score(), 100));
    value.assign(1, static_cast<char>(score));
    put_be64(value, e.ts_ns());
    e.AppendToString(&value);
    const auto key = seq_key(seq);
    wb.Put(cfs_[kEvents], key, value);
    bytes += key.size() + value.size();
    ++seq;
  }
  wb.Put(cfs_[kMeta], kNextSeqKey, seq_key(seq));
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  if (auto s = db_->Write(wo, &wb); !s.ok()) {
    return std::unexpected(db_error("append", s));  // seqs not consumed: next_seq unchanged
  }
  if (stats_.events == 0) {
    stats_.oldest_ts_ns = events.front().ts_ns();
  }
  stats_.next_seq = seq;
  stats_.events += events.size();
  stats_.appended += events.size();
  stats_.bytes += bytes;
  return trim_locked();
}

Result<void> Spool::trim_locked() {
  if (stats_.bytes <= options_.max_bytes) {
    return {};
  }
  // Rare (the collector has been away long enough to fill the spool), so one
  // scan picks the victims: lowest score first, oldest first within a score,
  // down to 90% of the bound so the next appends do not trim again at once.
  struct Entry {
    std::uint8_t score;
    std::uint64_t seq;
    std::uint64_t size;
  };
  std::vector<Entry> entries;
  entries.reserve(stats_.events);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(unacked_reads(), cfs_[kEvents]));
  for (it->Seek(seq_key(stats_.acked_seq + 1)); it->Valid(); it->Next()) {
    if (it->key().size() != 8 || it->value().empty()) {
      continue;
    }
    entries.push_back({static_cast<std::uint8_t>(it->value()[0]), get_be64(it->key().data()),
                       it->key().size() + it->value().size()});
  }
  if (!it->status().ok()) {
    return std::unexpected(db_error("trim scan", it->status()));
  }
  std::ranges::sort(entries, [](const Entry& a, const Entry& b) {
    return a.score != b.score ? a.score < b.score : a.seq < b.seq;
  });
  const std::uint64_t target = options_.max_bytes - options_.max_bytes / 10;
  rocksdb::WriteBatch wb;
  std::uint64_t freed = 0;
  std::uint64_t dropped = 0;
  for (const auto& e : entries) {
    if (stats_.bytes - freed <= target) {
      break;
    }
    wb.Delete(cfs_[kEvents], seq_key(e.seq));
    freed += e.size;
    ++dropped;
  }
  if (auto s = db_->Write({}, &wb); !s.ok()) {
    return std::unexpected(db_error("trim", s));
  }
  stats_.bytes -= freed;
  stats_.events -= dropped;
  stats_.dropped += dropped;
  refresh_oldest_locked();
  return {};
}

Result<void> Spool::read(std::uint64_t after, std::size_t max, v1::EventBatch& out) {
  out.Clear();
  std::lock_guard lock(mu_);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(unacked_reads(), cfs_[kEvents]));
  for (it->Seek(seq_key(std::max(after, stats_.acked_seq) + 1));
       it->Valid() && static_cast<std::size_t>(out.events_size()) < max; it->Next()) {
    const auto v = it->value();
    if (v.size() < kValueHeader) {
      continue;
    }
    auto* e = out.add_events();
    if (!e->ParseFromArray(v.data() + kValueHeader, static_cast<int>(v.size() - kValueHeader))) {
      out.mutable_events()->RemoveLast();
      continue;
    }
  }
  if (!it->status().ok()) {
    return std::unexpected(db_error("read", it->status()));
  }
  if (out.events_size() > 0) {
    out.set_first_seq(out.events(0).seq());
    out.set_last_seq(out.events(out.events_size() - 1).seq());
  }
  return {};
}

Result<void> Spool::ack(std::uint64_t seq) {
  std::lock_guard lock(mu_);
  seq = std::min(seq, stats_.next_seq - 1);  // an ack for seqs never assigned means nothing
  if (seq <= stats_.acked_seq) {
    return {};  // everything at or below the mark is already gone
  }
  // Sizes for the accounting, then one range tombstone for the whole prefix.
  std::uint64_t freed = 0;
  std::uint64_t n = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(unacked_reads(), cfs_[kEvents]));
  for (it->Seek(seq_key(stats_.acked_seq + 1)); it->Valid(); it->Next()) {
    if (it->key().size() == 8 && get_be64(it->key().data()) > seq) {
      break;
    }
    freed += it->key().size() + it->value().size();
    ++n;
  }
  rocksdb::WriteBatch wb;
  wb.DeleteRange(cfs_[kEvents], seq_key(0), seq_key(seq + 1));
  wb.Put(cfs_[kMeta], kAckedKey, seq_key(seq));
  if (auto s = db_->Write({}, &wb); !s.ok()) {
    return std::unexpected(db_error("ack", s));
  }
  stats_.acked_seq = seq;
  stats_.bytes -= std::min(stats_.bytes, freed);
  stats_.events -= std::min(stats_.events, n);
  stats_.acked += n;
  refresh_oldest_locked();
  return {};
}

SpoolStats Spool::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace vigil::agent
