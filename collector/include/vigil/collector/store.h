// The collector's storage: one RocksDB with a column family per record kind
// (events, alerts, agents, models, feedback, meta, rule_packs). Keys: vigil/collector/keys.h.
// Each ingested batch is one synchronous WriteBatch (WAL fsync) holding its events,
// its alerts and the agent's new high-water mark, so an ack is sent only for
// durable data and a replay is recognised as such after any crash. The same
// WriteBatch merges the batch into its host's per-minute rollups (rollups
// column family), so the fleet report's totals are exactly as durable as the
// events and cost the same to read whatever the event rate.
#pragma once

#include <rocksdb/db.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "vigil/collector/page_token.h"
#include "vigil/result.h"
#include "vigil/v1/agent.pb.h"
#include "vigil/v1/model.pb.h"
#include "vigil/v1/query.pb.h"
#include "vigil/v1/rules.pb.h"

namespace vigil::collector {

struct StoreOptions {
  bool sync = true;                           // fsync the WAL on every ingest (acks mean durable)
  std::uint64_t retention_age_s = 7 * 86400;  // events older than this are deleted
  std::uint64_t retention_bytes =
      8ULL << 30;  // events beyond this (approximate) are deleted, oldest first
  std::uint64_t alert_retention_age_s = 90 * 86400;
  // Events are refused (never half-written) while the data dir's file system
  // has less free space than this: RocksDB must never hit ENOSPC, after which
  // it stops writing until restarted. 0 = no check.
  std::uint64_t min_free_bytes = 64ULL << 20;
  // Stored records a query reads per page at most before it answers with what
  // it has, scan_limited and a token to continue.
  std::uint64_t query_max_scan = 100'000;
};

// A query page stops before its serialized records pass this, so every
// response fits a default (4 MiB) gRPC client.
inline constexpr std::size_t kMaxPageBytes = 3U << 20;

// One (behaviour, agent) pair of the fleet prevalence table (prevalence.h).
struct PrevalencePair {
  std::uint64_t key = 0;  // FNV-1a 64 of the agent's behaviour key
  std::string agent_id;
  std::uint32_t day = 0;  // last reported, unix day (seconds / 86400)
};

struct IngestResult {
  std::uint64_t stored = 0;
  std::uint64_t duplicates = 0;  // seq <= the agent's high-water mark: already stored
  std::uint64_t acked_seq = 0;
  std::uint64_t previous_acked_seq = 0;  // the mark before this batch: newer events are new
  std::vector<v1::Alert> alerts;         // agent alerts created or updated by this batch
};

// Where a hello came from, as the collector saw it (docs/api.md, "Identity").
struct HelloOrigin {
  std::string peer_address;
  std::vector<std::string> verified_addresses;  // claimed ones the peer or certificate confirms
};

struct RetentionResult {
  std::uint64_t events_cutoff_ns = 0;
  bool size_trimmed = false;
  std::uint64_t bytes_before = 0;
};

class Store {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Store>> open(const std::filesystem::path& dir,
                                                           StoreOptions options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Records the agent (upsert) and returns the highest seq already durable for it.
  // A different spool_id means a new spool: its seqs start over, so the mark resets.
  [[nodiscard]] Result<std::uint64_t> register_agent(const v1::Hello& hello, std::uint64_t now_ns,
                                                     const HelloOrigin& origin = {});
  [[nodiscard]] Result<void> set_connected(const std::string& agent_id, bool connected,
                                           std::uint64_t now_ns);
  [[nodiscard]] Result<void> update_health(const std::string& agent_id, const v1::Health& health,
                                           std::uint64_t now_ns);
  // The batch must be validated. Events at or below the agent's mark are skipped.
  // The mark becomes batch.last_seq: the highest seq the batch settles, stored
  // or among the `refused` events ingest left out of it (Ingest computes it
  // from the events received, never from a sender's header).
  [[nodiscard]] Result<IngestResult> ingest(const std::string& agent_id,
                                            const v1::EventBatch& batch, std::uint64_t now_ns,
                                            std::uint64_t refused = 0);

  // Inserts or replaces an alert by id (fleet alerts grow as hosts join).
  [[nodiscard]] Result<void> put_alert(const v1::Alert& alert);
  [[nodiscard]] Result<v1::Alert> get_alert(const std::string& id);
  [[nodiscard]] Result<v1::Alert> set_label(const std::string& id, const std::string& label,
                                            const std::string& comment, std::uint64_t now_ns);

  [[nodiscard]] std::vector<v1::AgentRecord> agents() const;
  [[nodiscard]] std::optional<v1::AgentRecord> agent(const std::string& agent_id) const;

  // Events oldest first from since_ns (or after the page token).
  [[nodiscard]] Result<v1::QueryEventsResponse> query_events(const v1::QueryEventsRequest& req,
                                                             std::uint64_t now_ns);
  // Alerts newest first.
  [[nodiscard]] Result<v1::QueryAlertsResponse> query_alerts(const v1::QueryAlertsRequest& req,
                                                             std::uint64_t now_ns);
  // Visits every stored event with since_ns <= ts < until_ns, oldest first, until
  // `fn` returns false.
  void scan_events(std::uint64_t since_ns, std::uint64_t until_ns,
                   const std::function<bool(const v1::StoredEvent&)>& fn);
  void scan_alerts(std::uint64_t since_ns, const std::function<bool(const v1::Alert&)>& fn);
  // Visits every host-minute rollup whose minute starts in [since_ns, until_ns),
  // oldest minute first (or newest first), until `fn` returns false.
  void scan_rollups(std::uint64_t since_ns, std::uint64_t until_ns,
                    const std::function<bool(std::uint64_t minute_ns, std::string_view host,
                                             const v1::HostMinute&)>& fn,
                    bool newest_first = false);
  // Merges `delta` into a host-minute rollup as ingest does: for benchmarks and
  // tools that build a history's rollups without its events.
  [[nodiscard]] Result<void> merge_rollup(std::uint64_t minute_ns, const std::string& host,
                                          const v1::HostMinute& delta);
  // The collector's page token issuer (its secret lives in the meta column family).
  [[nodiscard]] const PageTokens& page_tokens() const { return *tokens_; }

  // Model registry (models column family, key = version).
  [[nodiscard]] Result<void> put_model(const v1::ModelRecord& record);
  [[nodiscard]] Result<std::optional<v1::ModelRecord>> get_model(const std::string& version);
  [[nodiscard]] std::vector<v1::ModelRecord> models();
  // Rule pack registry (rule_packs column family, key = version).
  [[nodiscard]] Result<void> put_rule_pack(const v1::RulePackRecord& record);
  [[nodiscard]] Result<std::optional<v1::RulePackRecord>> get_rule_pack(const std::string& version);
  [[nodiscard]] std::vector<v1::RulePackRecord> rule_packs();
  // Fleet image profiles (image_profiles column family, key = the profile key;
  // image_profiles.h): one WriteBatch for all of `profiles`.
  [[nodiscard]] Result<void> put_image_profiles(const std::vector<v1::ImageProfile>& profiles);
  [[nodiscard]] std::vector<v1::ImageProfile> image_profiles();
  // Fleet prevalence pairs (prevalence column family, key = the 8-byte
  // big-endian behaviour hash + agent id, value = the last-seen unix day as 4
  // bytes big-endian; prevalence.h). One WriteBatch for both lists, written
  // without a WAL fsync (agents report again within a day).
  [[nodiscard]] Result<void> write_prevalence(const std::vector<PrevalencePair>& put,
                                              const std::vector<PrevalencePair>& erase);
  // The stored day of (keys[i], agent_id) for each i; nullopt where absent.
  [[nodiscard]] Result<std::vector<std::optional<std::uint32_t>>> prevalence_days(
      const std::string& agent_id, const std::vector<std::uint64_t>& keys);
  // Up to `limit` pairs in key order, after `after` (nullptr: from the
  // first); fewer than `limit` means the end. Malformed records are skipped.
  [[nodiscard]] Result<std::vector<PrevalencePair>> prevalence_pairs(const PrevalencePair* after,
                                                                     std::size_t limit);
  // Small named records in the meta column family (e.g. the rollout state).
  [[nodiscard]] Result<void> put_meta(const std::string& key, const std::string& value);
  [[nodiscard]] Result<std::optional<std::string>> get_meta(const std::string& key);

  [[nodiscard]] Result<RetentionResult> enforce_retention(std::uint64_t now_ns);
  [[nodiscard]] std::uint64_t approximate_event_bytes();

 private:
  Store(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> cfs,
        StoreOptions options);
  [[nodiscard]] Result<void> load_agents();
  [[nodiscard]] Result<void> put_alert_locked(rocksdb::WriteBatch& wb, const v1::Alert& alert);
  [[nodiscard]] Result<void> write(rocksdb::WriteBatch& wb);
  [[nodiscard]] Result<std::optional<v1::Alert>> find_alert(const std::string& id);

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;
  StoreOptions options_;
  // The agent registry (agents_), the free-space guard, and set_label's and
  // put_alert's writes. Ingest holds it only to copy and then update the
  // agent's record: it builds and writes a batch (and reads and updates that
  // agent's alerts) without it, relying on one writer per agent
  // (Ingest::writer_lock). A label set while the agent's batch updates the
  // same alert can still be lost (as before): not fixed.
  mutable std::mutex mu_;
  std::map<std::string, v1::AgentRecord> agents_;
  // The free-space guard (under mu_): statvfs at most every 200 ms.
  [[nodiscard]] Result<void> check_space();
  std::filesystem::path dir_;
  std::chrono::steady_clock::time_point space_checked_{};
  std::uint64_t free_bytes_ = 0;
  std::unique_ptr<PageTokens> tokens_;
};

// Column families, in the order Store opens them.
enum Cf : std::size_t {
  kDefault,
  kEvents,
  kAlerts,
  kAgents,
  kModels,
  kFeedback,
  kMeta,
  kRulePacks,
  kRollups,
  kImageProfiles,
  kPrevalence,
  kCfCount
};

}  // namespace vigil::collector
