#include "vigil/collector/store.h"

#include <fmt/format.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <array>
#include <unordered_map>
#include <unordered_set>

#include "vigil/collector/keys.h"
#include "vigil/collector/workload.h"

namespace vigil::collector {
namespace {

constexpr std::array<const char*, kCfCount> kCfNames = {
    "default", "events",     "alerts",  "agents",         "models",    "feedback",
    "meta",    "rule_packs", "rollups", "image_profiles", "prevalence"};

constexpr std::uint32_t kDefaultLimit = 100;
constexpr std::uint32_t kMaxLimit = 10000;
// Entries a host-minute keeps per top list (the least counted are dropped
// first, and counted as dropped): bounds a rollup whatever the event mix.
constexpr std::size_t kRollupTopEntries = 32;
constexpr std::size_t kRollupKinds = 64;
constexpr std::size_t kRollupMaxOperands = 2;
// The page token secret's key in the meta column family.
constexpr std::string_view kPageSecretKey = "m/page_token_secret";

// Where a query page starts: after the token's key, or at `since_ns` (oldest
// first) / at `until` (newest first, `since_ns` empty). A token pins `until`
// to the first page's, so pages of one query see one range.
struct Page {
  std::uint32_t limit;
  std::uint64_t until;
  std::uint64_t since;
  std::string start;
  bool skip_first;  // the start key is the previous page's last: skip it
};

template <typename Request>
Result<Page> page_of(const PageTokens& tokens, PageKind kind, const Request& req,
                     std::uint32_t limit, std::uint64_t until_ns, std::uint64_t now_ns,
                     std::optional<std::uint64_t> since_ns) {
  Page page{limit == 0 ? kDefaultLimit : std::min(limit, kMaxLimit),
            until_ns == 0 ? now_ns + 1 : until_ns,
            req.since_ns(),
            {},
            false};
  if (!req.page_token().empty()) {
    auto token = tokens.open(kind, without_paging(req), req.page_token());
    if (!token) {
      return std::unexpected(token.error());
    }
    // Every key starts with an 8-byte timestamp; event keys also carry seq and agent.
    if (token->resume_key().size() < (since_ns ? 17U : 9U)) {
      return make_error(ErrorCode::kInvalidArgument, "page_token refused: malformed");
    }
    page.start = token->resume_key();
    page.until = token->pinned_ns();
    page.since = token->since_ns();
    page.skip_first = true;
  } else {
    put_be64(page.start, since_ns.value_or(page.until));
  }
  return page;
}

// Sets `out` to the `keep` most counted of `counts` (ties: key order);
// returns the summed counts of the entries left out.
template <typename Map>
std::uint64_t keep_top(const Map& counts, std::size_t keep,
                       google::protobuf::RepeatedPtrField<v1::Count>* out) {
  std::vector<std::pair<std::string_view, std::uint64_t>> v(counts.begin(), counts.end());
  std::uint64_t dropped = 0;
  if (v.size() > keep) {
    std::ranges::nth_element(
        v, v.begin() + static_cast<std::ptrdiff_t>(keep), [](const auto& a, const auto& b) {
          return a.second != b.second ? a.second > b.second : a.first < b.first;
        });
    for (std::size_t i = keep; i < v.size(); ++i) {
      dropped += v[i].second;
    }
    v.resize(keep);
  }
  out->Clear();
  for (const auto& [key, count] : v) {
    auto* c = out->Add();
    c->set_key(std::string(key));
    c->set_count(count);
  }
  return dropped;
}

std::uint64_t merge_counts(google::protobuf::RepeatedPtrField<v1::Count>* into,
                           const google::protobuf::RepeatedPtrField<v1::Count>& from,
                           std::size_t keep) {
  std::unordered_map<std::string, std::uint64_t> sum;
  for (const auto& c : *into) {
    sum[c.key()] += c.count();
  }
  for (const auto& c : from) {
    sum[c.key()] += c.count();
  }
  return keep_top(sum, keep, into);
}

// A workload group's sums (a pod, Kubernetes namespace or image).
struct GroupSums {
  std::uint64_t events = 0;
  std::uint64_t alerts = 0;
  std::uint32_t risk = 0;

  void add(const v1::GroupReport& g) {
    events += g.events();
    alerts += g.alerts();
    risk = std::max(risk, g.risk());
  }
};
using GroupMap = std::unordered_map<std::string, GroupSums>;

// Sets `out` to the `keep` groups that alert most (then risk, then events;
// ties: key order), so an alerting pod outlives a busy quiet one; returns
// the events of the groups left out.
std::uint64_t keep_groups(const GroupMap& groups, std::size_t keep,
                          google::protobuf::RepeatedPtrField<v1::GroupReport>* out) {
  std::vector<std::pair<std::string_view, GroupSums>> v(groups.begin(), groups.end());
  std::uint64_t dropped = 0;
  if (v.size() > keep) {
    std::ranges::nth_element(v, v.begin() + static_cast<std::ptrdiff_t>(keep),
                             [](const auto& a, const auto& b) {
                               const auto& x = a.second;
                               const auto& y = b.second;
                               if (x.alerts != y.alerts) return x.alerts > y.alerts;
                               if (x.risk != y.risk) return x.risk > y.risk;
                               if (x.events != y.events) return x.events > y.events;
                               return a.first < b.first;
                             });
    for (std::size_t i = keep; i < v.size(); ++i) {
      dropped += v[i].second.events;
    }
    v.resize(keep);
  }
  out->Clear();
  for (const auto& [key, sums] : v) {
    auto* g = out->Add();
    g->set_key(std::string(key));
    g->set_events(sums.events);
    g->set_alerts(sums.alerts);
    g->set_risk(sums.risk);
  }
  return dropped;
}

std::uint64_t merge_groups(google::protobuf::RepeatedPtrField<v1::GroupReport>* into,
                           const google::protobuf::RepeatedPtrField<v1::GroupReport>& from,
                           std::size_t keep) {
  GroupMap sum;
  for (const auto& g : *into) {
    sum[g.key()].add(g);
  }
  for (const auto& g : from) {
    sum[g.key()].add(g);
  }
  return keep_groups(sum, keep, into);
}

// RocksDB merges each batch's host-minute delta into the stored rollup, so the
// write path never reads: a batch is one Merge per minute it spans.
class HostMinuteMerge final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& /*key*/, const rocksdb::Slice* existing,
             const rocksdb::Slice& value, std::string* new_value,
             rocksdb::Logger* /*logger*/) const override {
    v1::HostMinute acc;
    // An unreadable operand counts as empty rather than failing every read
    // of the minute (RocksDB's block checksums catch real corruption).
    if (existing != nullptr) {
      if (!acc.ParseFromArray(existing->data(), static_cast<int>(existing->size()))) {
        acc.Clear();
      }
    }
    v1::HostMinute delta;
    if (!delta.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      delta.Clear();
    }
    acc.set_events(acc.events() + delta.events());
    acc.set_alerts(acc.alerts() + delta.alerts());
    acc.set_max_alert_score(std::max(acc.max_alert_score(), delta.max_alert_score()));
    acc.set_kinds_dropped(
        acc.kinds_dropped() + delta.kinds_dropped() +
        merge_counts(acc.mutable_alerts_by_kind(), delta.alerts_by_kind(), kRollupKinds));
    acc.set_processes_dropped(
        acc.processes_dropped() + delta.processes_dropped() +
        merge_counts(acc.mutable_processes(), delta.processes(), kRollupTopEntries));
    acc.set_remotes_dropped(
        acc.remotes_dropped() + delta.remotes_dropped() +
        merge_counts(acc.mutable_remotes(), delta.remotes(), kRollupTopEntries));
    acc.set_pods_dropped(acc.pods_dropped() + delta.pods_dropped() +
                         merge_groups(acc.mutable_pods(), delta.pods(), kRollupTopEntries));
    acc.set_k8s_namespaces_dropped(
        acc.k8s_namespaces_dropped() + delta.k8s_namespaces_dropped() +
        merge_groups(acc.mutable_k8s_namespaces(), delta.k8s_namespaces(), kRollupTopEntries));
    acc.set_images_dropped(acc.images_dropped() + delta.images_dropped() +
                           merge_groups(acc.mutable_images(), delta.images(), kRollupTopEntries));
    return acc.SerializeToString(new_value);
  }
  const char* Name() const override { return "vigil.HostMinuteMerge"; }
};

// One batch's contribution to one minute of its host's rollup.
struct MinuteDelta {
  std::uint64_t events = 0;
  std::uint64_t alerts = 0;
  std::uint32_t max_alert_score = 0;
  std::unordered_map<std::string, std::uint64_t> kinds;
  std::unordered_map<std::string, std::uint64_t> processes;
  std::unordered_map<std::string, std::uint64_t> remotes;
  GroupMap pods;
  GroupMap namespaces;
  GroupMap images;

  // Calls fn on the sums of each workload group the event belongs to.
  template <typename Fn>
  void for_groups(const v1::Event& e, Fn fn) {
    if (!e.has_container()) {
      return;
    }
    const auto& c = e.container();
    if (auto pod = pod_key(c); !pod.empty()) {
      fn(pods[pod]);
    }
    if (!c.k8s_ns().empty()) {
      fn(namespaces[c.k8s_ns()]);
    }
    if (!c.image().empty()) {
      fn(images[c.image()]);
    }
  }

  // An event that raised (first) or grew an agent alert.
  void alert(const v1::Event& e, bool first) {
    max_alert_score = std::max(max_alert_score, e.score());
    if (first) {
      ++alerts;
      ++kinds[e.indicators_size() > 0 ? e.indicators(0).id() : e.type()];
    }
    for_groups(e, [&](GroupSums& g) {
      g.alerts += first ? 1 : 0;
      g.risk = std::max(g.risk, e.score());
    });
  }

  void add(const v1::Event& e) {
    ++events;
    for_groups(e, [](GroupSums& g) { ++g.events; });
    if (e.score() > 0) {
      const std::string& proc = e.exe().empty() ? e.comm() : e.exe();
      if (!proc.empty()) {
        processes[proc] += e.score();
      }
    }
    if (e.has_socket() && !e.socket().raddr().empty()) {
      ++remotes[e.socket().raddr()];
    } else if (e.has_net_summary()) {
      ++remotes[e.net_summary().src()];
    }
  }

  [[nodiscard]] v1::HostMinute to_proto() const {
    v1::HostMinute m;
    m.set_events(events);
    m.set_alerts(alerts);
    m.set_max_alert_score(max_alert_score);
    m.set_kinds_dropped(keep_top(kinds, kRollupKinds, m.mutable_alerts_by_kind()));
    m.set_processes_dropped(keep_top(processes, kRollupTopEntries, m.mutable_processes()));
    m.set_remotes_dropped(keep_top(remotes, kRollupTopEntries, m.mutable_remotes()));
    m.set_pods_dropped(keep_groups(pods, kRollupTopEntries, m.mutable_pods()));
    m.set_k8s_namespaces_dropped(
        keep_groups(namespaces, kRollupTopEntries, m.mutable_k8s_namespaces()));
    m.set_images_dropped(keep_groups(images, kRollupTopEntries, m.mutable_images()));
    return m;
  }
};

Error db_error(const char* what, const rocksdb::Status& s) {
  return Error{ErrorCode::kIo, fmt::format("rocksdb {}: {}", what, s.ToString())};
}

std::uint64_t sec_to_ns(std::uint64_t s) { return s * 1'000'000'000ULL; }

// `head` (a serialized StoredEvent holding only agent_id and host) followed by
// `e` as StoredEvent.event (field 3): the bytes StoredEvent::SerializeToString
// writes for the three fields. e's size must be cached (ByteSizeLong on it or
// on its batch).
void stored_event_value(const std::string& head, const v1::Event& e, std::string& out) {
  constexpr char kEventTag = (3 << 3) | 2;  // field 3, length-delimited
  const auto size = static_cast<std::uint32_t>(e.GetCachedSize());
  out.assign(head);
  out.push_back(kEventTag);
  for (std::uint32_t v = size;; v >>= 7) {
    if (v < 0x80) {
      out.push_back(static_cast<char>(v));
      break;
    }
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
  }
  const std::size_t at = out.size();
  out.resize(at + size);
  e.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(out.data() + at));
}

}  // namespace

Store::Store(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> cfs,
             StoreOptions options)
    : db_(std::move(db)), cfs_(std::move(cfs)), options_(options) {}

Store::~Store() {
  for (auto* cf : cfs_) {
    db_->DestroyColumnFamilyHandle(cf).PermitUncheckedError();
  }
  db_->Close().PermitUncheckedError();
}

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& dir, StoreOptions options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return make_error(ErrorCode::kIo, fmt::format("data dir {}: {}", dir.string(), ec.message()));
  }
  rocksdb::DBOptions db_opts;
  db_opts.create_if_missing = true;
  db_opts.create_missing_column_families = true;
  db_opts.max_background_jobs = 2;
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const char* name : kCfNames) {
    rocksdb::ColumnFamilyOptions cf_opts;
    cf_opts.compression = rocksdb::kLZ4Compression;
    if (descs.size() == kRollups) {
      cf_opts.merge_operator = std::make_shared<HostMinuteMerge>();
      // A host-minute gets a merge per batch; folding them in the memtable
      // every few keeps a report's read to a few operands per key, so its
      // cost stays hosts x minutes whatever the batch rate.
      cf_opts.max_successive_merges = kRollupMaxOperands;
    }
    descs.emplace_back(name, cf_opts);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(db_opts, (dir / "db").string(), descs, &handles, &raw);
  if (!s.ok()) {
    return make_error(ErrorCode::kIo,
                      fmt::format("open {}: {}", (dir / "db").string(), s.ToString()));
  }
  std::unique_ptr<Store> store(
      new Store(std::unique_ptr<rocksdb::DB>(raw), std::move(handles), options));
  store->dir_ = dir;
  if (auto r = store->load_agents(); !r) {
    return std::unexpected(r.error());
  }
  // Page tokens outlive a restart: the secret is made once and kept.
  std::array<unsigned char, kPageSecretBytes> secret{};
  std::string stored;
  s = store->db_->Get({}, store->cfs_[kMeta], kPageSecretKey, &stored);
  if (s.ok() && stored.size() == secret.size()) {
    std::ranges::copy(stored, secret.begin());
  } else if (s.ok() || s.IsNotFound()) {
    secret = PageTokens::random_secret();
    rocksdb::WriteBatch wb;
    wb.Put(store->cfs_[kMeta], kPageSecretKey,
           rocksdb::Slice(reinterpret_cast<const char*>(secret.data()), secret.size()));
    if (auto r = store->write(wb); !r) {
      return std::unexpected(r.error());
    }
  } else {
    return std::unexpected(db_error("get page token secret", s));
  }
  store->tokens_ = std::make_unique<PageTokens>(secret);
  return store;
}

Result<void> Store::load_agents() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cfs_[kAgents]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    v1::AgentRecord rec;
    if (!rec.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return make_error(ErrorCode::kCorrupt,
                        fmt::format("agents: unreadable record for '{}'", it->key().ToString()));
    }
    rec.set_connected(false);
    agents_[rec.agent_id()] = std::move(rec);
  }
  if (!it->status().ok()) {
    return std::unexpected(db_error("scan agents", it->status()));
  }
  return {};
}

Result<void> Store::write(rocksdb::WriteBatch& wb) {
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  auto s = db_->Write(wo, &wb);
  if (!s.ok()) {
    return std::unexpected(db_error("write", s));
  }
  return {};
}

Result<std::uint64_t> Store::register_agent(const v1::Hello& hello, std::uint64_t now_ns,
                                            const HelloOrigin& origin) {
  std::lock_guard lock(mu_);
  auto& rec = agents_[hello.agent_id()];
  if (rec.agent_id().empty()) {
    rec.set_agent_id(hello.agent_id());
    rec.set_first_seen_ns(now_ns);
  }
  if (rec.spool_id() != hello.spool_id()) {
    rec.set_spool_id(hello.spool_id());
    rec.set_acked_seq(0);
  }
  rec.set_host_id(hello.host_id());
  rec.set_version(hello.version());
  rec.set_kernel(hello.kernel());
  rec.set_model_version(hello.model_version());
  rec.set_rule_pack_version(hello.rule_pack_version());
  rec.set_last_seen_ns(now_ns);
  rec.set_connected(true);
  rec.clear_addresses();
  for (const auto& a : hello.addresses()) {
    rec.add_addresses(a);
  }
  rec.set_peer_address(origin.peer_address);
  rec.clear_verified_addresses();
  for (const auto& a : origin.verified_addresses) {
    rec.add_verified_addresses(a);
  }
  rec.set_addresses_verified(origin.verified_addresses.size() ==
                             static_cast<std::size_t>(hello.addresses_size()));
  rec.clear_probes();
  for (const auto& p : hello.probes()) {
    rec.add_probes(p.loaded() ? fmt::format("{}:ok", p.family())
                              : fmt::format("{}:failed ({})", p.family(), p.error()));
  }
  rocksdb::WriteBatch wb;
  wb.Put(cfs_[kAgents], rec.agent_id(), rec.SerializeAsString());
  if (auto r = write(wb); !r) {
    return std::unexpected(r.error());
  }
  return rec.acked_seq();
}

Result<void> Store::set_connected(const std::string& agent_id, bool connected,
                                  std::uint64_t now_ns) {
  std::lock_guard lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) {
    return make_error(ErrorCode::kNotFound, "unknown agent " + agent_id);
  }
  it->second.set_connected(connected);
  it->second.set_last_seen_ns(now_ns);
  rocksdb::WriteBatch wb;
  wb.Put(cfs_[kAgents], agent_id, it->second.SerializeAsString());
  return write(wb);
}

Result<void> Store::update_health(const std::string& agent_id, const v1::Health& h,
                                  std::uint64_t now_ns) {
  std::lock_guard lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) {
    return make_error(ErrorCode::kNotFound, "unknown agent " + agent_id);
  }
  auto& rec = it->second;
  std::uint64_t drops = 0;
  for (const auto& d : h.drops()) {
    drops += d.ringbuf_drops();
  }
  rec.set_kernel_drops(drops);
  rec.set_decoder_errors(h.decoder_errors());
  if (!h.model_version().empty()) {
    rec.set_model_version(h.model_version());  // a rolled-out model shows up here
  }
  rec.set_spool_events(h.spool_events());
  rec.set_spool_dropped(h.spool_dropped());
  rec.set_lag_ms(h.lag_ms());
  rec.set_cpu_percent(h.cpu_percent());
  rec.set_rss_bytes(h.rss_bytes());
  rec.set_output_write_errors(h.output_write_errors());
  rec.set_level(h.level());
  rec.set_model_refusals(h.model_refusals());
  rec.set_model_refusal(h.model_refusal());
  rec.set_rule_pack_version(h.rule_pack_version());  // "" is a version here: no pack
  rec.set_rule_pack_refusals(h.rule_pack_refusals());
  rec.set_rule_pack_refusal(h.rule_pack_refusal());
  rec.set_last_seen_ns(now_ns);
  rocksdb::WriteBatch wb;
  wb.Put(cfs_[kAgents], agent_id, rec.SerializeAsString());
  return write(wb);
}

Result<std::optional<v1::Alert>> Store::find_alert(const std::string& id) {
  std::string key;
  auto s = db_->Get({}, cfs_[kMeta], alert_index_key(id), &key);
  if (s.IsNotFound()) {
    return std::optional<v1::Alert>{};
  }
  if (!s.ok()) {
    return std::unexpected(db_error("get alert index", s));
  }
  std::string value;
  s = db_->Get({}, cfs_[kAlerts], key, &value);
  if (s.IsNotFound()) {
    return std::optional<v1::Alert>{};  // expired by retention
  }
  if (!s.ok()) {
    return std::unexpected(db_error("get alert", s));
  }
  v1::Alert alert;
  if (!alert.ParseFromString(value)) {
    return make_error(ErrorCode::kCorrupt, "alerts: unreadable record for " + id);
  }
  return alert;
}

Result<void> Store::put_alert_locked(rocksdb::WriteBatch& wb, const v1::Alert& alert) {
  const auto key = alert_key(alert.ts_ns(), alert.id());
  wb.Put(cfs_[kAlerts], key, alert.SerializeAsString());
  wb.Put(cfs_[kMeta], alert_index_key(alert.id()), key);
  return {};
}

Result<void> Store::check_space() {
  if (options_.min_free_bytes == 0) {
    return {};
  }
  const auto now = std::chrono::steady_clock::now();
  if (now - space_checked_ > std::chrono::milliseconds(200)) {
    struct statvfs st {};
    if (statvfs(dir_.c_str(), &st) == 0) {
      free_bytes_ = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
    }
    space_checked_ = now;
  }
  if (free_bytes_ < options_.min_free_bytes) {
    return make_error(ErrorCode::kIo,
                      fmt::format("disk full: {} MiB free for {}, below min_free_mb {}; events "
                                  "wait in the agents' spools until there is space",
                                  free_bytes_ >> 20, dir_.string(), options_.min_free_bytes >> 20));
  }
  return {};
}

Result<IngestResult> Store::ingest(const std::string& agent_id, const v1::EventBatch& batch,
                                   std::uint64_t now_ns, std::uint64_t refused) {
  v1::AgentRecord rec;  // committed to agents_ only after the write
  {
    // The registry's lock covers only the record: the batch is built and
    // written without it, so the writer threads' batches (one writer per
    // agent: Ingest::writer_lock) are built side by side and commit together
    // in RocksDB's WAL group, one fsync for all of them.
    std::lock_guard lock(mu_);
    if (auto r = check_space(); !r) {
      return std::unexpected(r.error());
    }
    auto it = agents_.find(agent_id);
    if (it == agents_.end()) {
      return make_error(ErrorCode::kNotFound, "batch before hello from " + agent_id);
    }
    rec = it->second;
  }
  IngestResult result;
  result.previous_acked_seq = rec.acked_seq();
  // Each event's record is a StoredEvent: its agent and host (the same for
  // the whole batch, serialized once), then the event as field 3, serialized
  // in place rather than copied into a StoredEvent first.
  std::string head;
  {
    v1::StoredEvent stored;
    stored.set_agent_id(agent_id);
    stored.set_host(rec.host_id());
    stored.SerializeToString(&head);
  }
  const std::size_t batch_bytes = batch.ByteSizeLong();  // caches every event's size
  rocksdb::WriteBatch wb(batch_bytes + static_cast<std::size_t>(batch.events_size()) *
                                           (head.size() + 64 + agent_id.size()));
  std::string value;
  std::map<std::uint64_t, MinuteDelta> rollups;             // by minute of event time
  std::unordered_set<std::string> new_alerts;               // first seen in this batch
  std::unordered_map<std::string, v1::Alert> batch_alerts;  // raised or updated in this batch
  for (const auto& e : batch.events()) {
    if (e.seq() <= rec.acked_seq()) {
      ++result.duplicates;
      continue;
    }
    stored_event_value(head, e, value);
    wb.Put(cfs_[kEvents], event_key(e.ts_ns(), e.seq(), agent_id), value);
    ++result.stored;
    auto& minute = rollups[minute_of(e.ts_ns())];
    minute.add(e);
    if (e.alert_id().empty()) {
      continue;
    }
    const std::string id = agent_id + ":" + e.alert_id();
    // An alert raised earlier in this same batch is not in the store yet: it
    // is updated, not created twice (under two keys).
    Result<std::optional<v1::Alert>> existing;
    if (auto in_batch = batch_alerts.find(id); in_batch != batch_alerts.end()) {
      existing = in_batch->second;
    } else {
      existing = find_alert(id);
    }
    if (!existing) {
      return std::unexpected(existing.error());
    }
    minute.alert(e, !existing->has_value() && new_alerts.insert(id).second);
    v1::Alert alert;
    if (existing->has_value()) {
      alert = std::move(**existing);
      alert.set_count(alert.count() + 1);
      alert.set_score(std::max(alert.score(), e.score()));
      alert.set_updated_ns(e.ts_ns());
    } else {
      alert.set_id(id);
      alert.set_ts_ns(e.ts_ns());
      alert.set_updated_ns(e.ts_ns());
      alert.set_score(e.score());
      alert.set_host(rec.host_id());
      alert.set_agent_id(agent_id);
      alert.set_kind(e.indicators_size() > 0 ? e.indicators(0).id() : e.type());
      alert.add_hosts(rec.host_id());
      *alert.mutable_indicators() = e.indicators();
      alert.set_summary(e.summary());
      *alert.mutable_event() = e;
      alert.set_count(1);
    }
    if (auto r = put_alert_locked(wb, alert); !r) {
      return std::unexpected(r.error());
    }
    batch_alerts[id] = alert;
    result.alerts.push_back(std::move(alert));
  }
  for (const auto& [minute_ns, delta] : rollups) {
    wb.Merge(cfs_[kRollups], rollup_key(minute_ns, rec.host_id()),
             delta.to_proto().SerializeAsString());
  }
  rec.set_acked_seq(std::max(rec.acked_seq(), batch.last_seq()));
  rec.set_events_stored(rec.events_stored() + result.stored);
  rec.set_duplicates(rec.duplicates() + result.duplicates);
  rec.set_events_refused(rec.events_refused() + refused);
  rec.set_last_seen_ns(now_ns);
  wb.Put(cfs_[kAgents], agent_id, rec.SerializeAsString());
  if (auto written = write(wb); !written) {
    return std::unexpected(written.error());
  }
  std::lock_guard lock(mu_);
  // Only what this batch changed: the record may have moved meanwhile (e.g.
  // set_connected).
  auto& cur = agents_[agent_id];
  cur.set_acked_seq(std::max(cur.acked_seq(), rec.acked_seq()));
  cur.set_events_stored(rec.events_stored());
  cur.set_duplicates(rec.duplicates());
  cur.set_events_refused(rec.events_refused());
  cur.set_last_seen_ns(rec.last_seen_ns());
  result.acked_seq = cur.acked_seq();
  return result;
}

Result<void> Store::put_alert(const v1::Alert& alert) {
  std::lock_guard lock(mu_);
  rocksdb::WriteBatch wb;
  if (auto r = put_alert_locked(wb, alert); !r) {
    return r;
  }
  return write(wb);
}

Result<v1::Alert> Store::get_alert(const std::string& id) {
  std::lock_guard lock(mu_);
  auto found = find_alert(id);
  if (!found) {
    return std::unexpected(found.error());
  }
  if (!found->has_value()) {
    return make_error(ErrorCode::kNotFound, "no alert " + id);
  }
  return std::move(**found);
}

Result<v1::Alert> Store::set_label(const std::string& id, const std::string& label,
                                   const std::string& comment, std::uint64_t now_ns) {
  std::lock_guard lock(mu_);
  auto found = find_alert(id);
  if (!found) {
    return std::unexpected(found.error());
  }
  if (!found->has_value()) {
    return make_error(ErrorCode::kNotFound, "no alert " + id);
  }
  v1::Alert alert = std::move(**found);
  alert.set_label(label);
  rocksdb::WriteBatch wb;
  if (auto r = put_alert_locked(wb, alert); !r) {
    return std::unexpected(r.error());
  }
  // The feedback log keeps every label given, in time order, for model training.
  std::string key;
  put_be64(key, now_ns);
  key.append(id);
  wb.Put(cfs_[kFeedback], key, fmt::format("{}\t{}", label, comment));
  if (auto r = write(wb); !r) {
    return std::unexpected(r.error());
  }
  return alert;
}

std::vector<v1::AgentRecord> Store::agents() const {
  std::lock_guard lock(mu_);
  std::vector<v1::AgentRecord> out;
  out.reserve(agents_.size());
  for (const auto& [id, rec] : agents_) {
    out.push_back(rec);
  }
  return out;
}

std::optional<v1::AgentRecord> Store::agent(const std::string& agent_id) const {
  std::lock_guard lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) {
    return std::nullopt;
  }
  return it->second;
}

Result<v1::QueryEventsResponse> Store::query_events(const v1::QueryEventsRequest& req,
                                                    std::uint64_t now_ns) {
  auto page = page_of(*tokens_, PageKind::kEvents, req, req.limit(), req.until_ns(), now_ns,
                      req.since_ns());
  if (!page) {
    return std::unexpected(page.error());
  }
  const auto& [limit, until, since, start, skip_first] = *page;
  const std::uint64_t max_scan = std::max<std::uint64_t>(1, options_.query_max_scan);
  const auto workload = WorkloadFilter::of(req);
  v1::QueryEventsResponse resp;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cfs_[kEvents]));
  v1::StoredEvent ev;
  std::string resume;  // the last key this page covered: returned, or read and filtered out
  std::size_t bytes = 0;
  bool more = false;
  for (it->Seek(start); it->Valid(); it->Next()) {
    const auto key = it->key();
    if (skip_first && key.ToString() == start) {
      continue;
    }
    auto parsed = parse_event_key(std::string_view(key.data(), key.size()));
    if (!parsed || parsed->ts_ns >= until) {
      break;
    }
    if (resp.scanned() == max_scan) {
      resp.set_scan_limited(true);
      more = true;
      break;
    }
    resp.set_scanned(resp.scanned() + 1);
    if ((!req.agent_id().empty() && parsed->agent_id != req.agent_id()) ||
        !ev.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) ||
        (!req.host().empty() && ev.host() != req.host()) ||
        (!req.type().empty() && ev.event().type() != req.type()) ||
        ev.event().score() < req.min_score() || !workload.matches(ev.event())) {
      resume = key.ToString();  // unreadable records are skipped, never fatal to a query
      continue;
    }
    const std::size_t size = ev.ByteSizeLong();
    if (static_cast<std::uint32_t>(resp.events_size()) == limit ||
        (resp.events_size() > 0 && bytes + size > kMaxPageBytes)) {
      more = true;
      break;
    }
    bytes += size;
    *resp.add_events() = ev;
    resume = key.ToString();
  }
  if (!it->status().ok()) {
    return std::unexpected(db_error("scan events", it->status()));
  }
  if (more && !resume.empty()) {
    resp.set_next_page_token(
        tokens_->issue(PageKind::kEvents, without_paging(req), resume, until, since));
  }
  return resp;
}

Result<v1::QueryAlertsResponse> Store::query_alerts(const v1::QueryAlertsRequest& req,
                                                    std::uint64_t now_ns) {
  // Newest first: the scan starts at `until` and walks back.
  auto page =
      page_of(*tokens_, PageKind::kAlerts, req, req.limit(), req.until_ns(), now_ns, std::nullopt);
  if (!page) {
    return std::unexpected(page.error());
  }
  const auto& [limit, until, since, start, skip_first] = *page;
  const std::uint64_t max_scan = std::max<std::uint64_t>(1, options_.query_max_scan);
  const auto workload = WorkloadFilter::of(req);
  v1::QueryAlertsResponse resp;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cfs_[kAlerts]));
  v1::Alert alert;
  std::string resume;  // as query_events'
  std::size_t bytes = 0;
  bool more = false;
  for (it->SeekForPrev(start); it->Valid(); it->Prev()) {
    const auto key = it->key();
    if (key.size() < 8) {
      continue;
    }
    if (skip_first && key.ToString() == start) {
      continue;
    }
    const std::uint64_t ts = get_be64(std::string_view(key.data(), key.size()), 0);
    if (ts < since) {
      break;
    }
    if (resp.scanned() == max_scan) {
      resp.set_scan_limited(true);
      more = true;
      break;
    }
    resp.set_scanned(resp.scanned() + 1);
    if (ts >= until ||
        !alert.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      resume = key.ToString();
      continue;
    }
    const bool host_match =
        req.host().empty() || std::ranges::find(alert.hosts(), req.host()) != alert.hosts().end();
    if (!host_match || alert.score() < req.min_score() || (req.fleet_only() && !alert.fleet()) ||
        !workload.matches(alert.event())) {
      resume = key.ToString();
      continue;
    }
    const std::size_t size = alert.ByteSizeLong();
    if (static_cast<std::uint32_t>(resp.alerts_size()) == limit ||
        (resp.alerts_size() > 0 && bytes + size > kMaxPageBytes)) {
      more = true;
      break;
    }
    bytes += size;
    *resp.add_alerts() = alert;
    resume = key.ToString();
  }
  if (!it->status().ok()) {
    return std::unexpected(db_error("scan alerts", it->status()));
  }
  if (more && !resume.empty()) {
    resp.set_next_page_token(
        tokens_->issue(PageKind::kAlerts, without_paging(req), resume, until, since));
  }
  return resp;
}

void Store::scan_events(std::uint64_t since_ns, std::uint64_t until_ns,
                        const std::function<bool(const v1::StoredEvent&)>& fn) {
  std::string start;
  put_be64(start, since_ns);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cfs_[kEvents]));
  v1::StoredEvent ev;
  for (it->Seek(start); it->Valid(); it->Next()) {
    const auto key = it->key();
    if (key.size() < 16 || get_be64(std::string_view(key.data(), key.size()), 0) >= until_ns) {
      break;
    }
    if (ev.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) && !fn(ev)) {
      break;
    }
  }
}

void Store::scan_alerts(std::uint64_t since_ns, const std::function<bool(const v1::Alert&)>& fn) {
  std::string start;
  put_be64(start, since_ns);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cfs_[kAlerts]));
  v1::Alert alert;
  for (it->Seek(start); it->Valid(); it->Next()) {
    if (alert.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) &&
        !fn(alert)) {
      break;
    }
  }
}

void Store::scan_rollups(
    std::uint64_t since_ns, std::uint64_t until_ns,
    const std::function<bool(std::uint64_t, std::string_view, const v1::HostMinute&)>& fn,
    bool newest_first) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cfs_[kRollups]));
  v1::HostMinute minute;
  // Visits one minute's keys (forward) from the iterator's position; false
  // once `fn` asks to stop.
  auto visit = [&](std::uint64_t only_minute) {
    for (; it->Valid(); it->Next()) {
      const std::string_view key(it->key().data(), it->key().size());
      if (key.size() < 8) {
        continue;
      }
      const auto minute_ns = get_be64(key, 0);
      if (minute_ns >= until_ns || (newest_first && minute_ns != only_minute)) {
        break;
      }
      if (minute.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) &&
          !fn(minute_ns, key.substr(8), minute)) {
        return false;
      }
    }
    return true;
  };
  std::string start;
  if (!newest_first) {
    put_be64(start, since_ns);
    it->Seek(start);
    visit(0);
    return;
  }
  // Newest minute first, each minute read forward: RocksDB's reverse
  // iteration over merge operands costs ~4x a forward one, so only the seek
  // from minute to minute goes backwards.
  std::uint64_t cursor = until_ns;
  while (cursor > since_ns) {
    start.clear();
    put_be64(start, cursor);
    it->SeekForPrev(start);
    while (it->Valid() &&
           (it->key().size() < 8 ||
            get_be64(std::string_view(it->key().data(), it->key().size()), 0) >= cursor)) {
      it->Prev();
    }
    if (!it->Valid()) {
      return;
    }
    const auto m = get_be64(std::string_view(it->key().data(), it->key().size()), 0);
    if (m < since_ns) {
      return;
    }
    start.clear();
    put_be64(start, m);
    it->Seek(start);
    if (!visit(m)) {
      return;
    }
    cursor = m;
  }
}

Result<void> Store::merge_rollup(std::uint64_t minute_ns, const std::string& host,
                                 const v1::HostMinute& delta) {
  rocksdb::WriteBatch wb;
  wb.Merge(cfs_[kRollups], rollup_key(minute_of(minute_ns), host), delta.SerializeAsString());
  return write(wb);
}

std::uint64_t Store::approximate_event_bytes() {
  std::uint64_t size = 0;
  db_->GetIntProperty(cfs_[kEvents], "rocksdb.estimate-live-data-size", &size);
  std::uint64_t mem = 0;
  db_->GetIntProperty(cfs_[kEvents], "rocksdb.cur-size-all-mem-tables", &mem);
  return size + mem;
}

Result<RetentionResult> Store::enforce_retention(std::uint64_t now_ns) {
  RetentionResult result;
  const auto age_ns = sec_to_ns(options_.retention_age_s);
  result.events_cutoff_ns = now_ns > age_ns ? now_ns - age_ns : 0;
  result.bytes_before = approximate_event_bytes();
  if (result.bytes_before > options_.retention_bytes) {
    // Over the size budget: drop the oldest quarter of the stored time span.
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cfs_[kEvents]));
    it->SeekToFirst();
    if (it->Valid() && it->key().size() >= 8) {
      const auto oldest = get_be64(std::string_view(it->key().data(), it->key().size()), 0);
      const auto span = now_ns > oldest ? now_ns - oldest : 0;
      result.events_cutoff_ns = std::max(result.events_cutoff_ns, oldest + span / 4);
      result.size_trimmed = true;
    }
  }
  std::string begin;
  put_be64(begin, 0);
  std::string end;
  put_be64(end, result.events_cutoff_ns);
  rocksdb::WriteBatch wb;
  wb.DeleteRange(cfs_[kEvents], begin, end);
  // Rollups go with their events: a minute is dropped once it is wholly expired.
  std::string rollups_end;
  put_be64(rollups_end, minute_of(result.events_cutoff_ns));
  wb.DeleteRange(cfs_[kRollups], begin, rollups_end);
  const auto alert_age_ns = sec_to_ns(options_.alert_retention_age_s);
  std::string alerts_end;
  put_be64(alerts_end, now_ns > alert_age_ns ? now_ns - alert_age_ns : 0);
  {
    // Expired alerts take their id -> key index entries with them.
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cfs_[kAlerts]));
    for (it->SeekToFirst(); it->Valid() && it->key().compare(alerts_end) < 0; it->Next()) {
      if (it->key().size() > 8) {
        wb.Delete(cfs_[kMeta],
                  alert_index_key(std::string_view(it->key().data() + 8, it->key().size() - 8)));
      }
    }
  }
  wb.DeleteRange(cfs_[kAlerts], begin, alerts_end);
  if (auto r = write(wb); !r) {
    return std::unexpected(r.error());
  }
  if (result.size_trimmed) {
    rocksdb::Slice b(begin);
    rocksdb::Slice e(end);
    db_->CompactRange({}, cfs_[kEvents], &b, &e).PermitUncheckedError();
  }
  return result;
}

// ------------------------------------------------------------ model registry

namespace {
// Meta keys are prefixed so they never collide with the alert index ("alert/").
std::string meta_key(const std::string& key) { return "m/" + key; }
}  // namespace

Result<void> Store::put_model(const v1::ModelRecord& record) {
  std::string value;
  if (!record.SerializeToString(&value)) {
    return make_error(ErrorCode::kInternal, "model record does not serialise");
  }
  rocksdb::WriteBatch wb;
  wb.Put(cfs_[kModels], record.info().version(), value);
  return write(wb);
}

Result<std::optional<v1::ModelRecord>> Store::get_model(const std::string& version) {
  std::string value;
  auto s = db_->Get({}, cfs_[kModels], version, &value);
  if (s.IsNotFound()) {
    return std::optional<v1::ModelRecord>{};
  }
  if (!s.ok()) {
    return std::unexpected(db_error("get model", s));
  }
  v1::ModelRecord rec;
  if (!rec.ParseFromString(value)) {
    return make_error(ErrorCode::kCorrupt, "model record " + version + " is corrupt");
  }
  return std::optional<v1::ModelRecord>(std::move(rec));
}

std::vector<v1::ModelRecord> Store::models() {
  std::vector<v1::ModelRecord> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cfs_[kModels]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    v1::ModelRecord rec;
    if (rec.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      out.push_back(std::move(rec));
    }
  }
  return out;
}

Result<void> Store::put_rule_pack(const v1::RulePackRecord& record) {
  std::string value;
  if (!record.SerializeToString(&value)) {
    return make_error(ErrorCode::kInternal, "rule pack record does not serialise");
  }
  rocksdb::WriteBatch wb;
  wb.Put(cfs_[kRulePacks], record.info().version(), value);
  return write(wb);
}

Result<std::optional<v1::RulePackRecord>> Store::get_rule_pack(const std::string& version) {
  std::string value;
  auto s = db_->Get({}, cfs_[kRulePacks], version, &value);
  if (s.IsNotFound()) {
    return std::optional<v1::RulePackRecord>{};
  }
  if (!s.ok()) {
    return std::unexpected(db_error("get rule pack", s));
  }
  v1::RulePackRecord rec;
  if (!rec.ParseFromString(value)) {
    return make_error(ErrorCode::kCorrupt, "rule pack record " + version + " is corrupt");
  }
  return std::optional<v1::RulePackRecord>(std::move(rec));
}

std::vector<v1::RulePackRecord> Store::rule_packs() {
  std::vector<v1::RulePackRecord> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cfs_[kRulePacks]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    v1::RulePackRecord rec;
    if (rec.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      out.push_back(std::move(rec));
    }
  }
  return out;
}

Result<void> Store::put_image_profiles(const std::vector<v1::ImageProfile>& profiles) {
  rocksdb::WriteBatch wb;
  std::string value;
  for (const auto& p : profiles) {
    if (!p.SerializeToString(&value)) {
      return make_error(ErrorCode::kInternal, "image profile does not serialise");
    }
    wb.Put(cfs_[kImageProfiles], p.image(), value);
  }
  return write(wb);
}

std::vector<v1::ImageProfile> Store::image_profiles() {
  std::vector<v1::ImageProfile> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cfs_[kImageProfiles]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    v1::ImageProfile p;
    if (p.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      out.push_back(std::move(p));
    }
  }
  return out;
}

namespace {

void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

std::uint64_t get_be(std::string_view in) {
  std::uint64_t v = 0;
  for (char c : in) {
    v = (v << 8) | static_cast<unsigned char>(c);
  }
  return v;
}

std::string prevalence_key(std::uint64_t key, std::string_view agent_id) {
  std::string out;
  out.reserve(8 + agent_id.size());
  put_be(out, key, 8);
  out.append(agent_id);
  return out;
}

}  // namespace

Result<void> Store::write_prevalence(const std::vector<PrevalencePair>& put,
                                     const std::vector<PrevalencePair>& erase) {
  if (put.empty() && erase.empty()) {
    return {};
  }
  rocksdb::WriteBatch wb;
  std::string value;
  for (const auto& p : put) {
    value.clear();
    put_be(value, p.day, 4);
    wb.Put(cfs_[kPrevalence], prevalence_key(p.key, p.agent_id), value);
  }
  for (const auto& p : erase) {
    wb.Delete(cfs_[kPrevalence], prevalence_key(p.key, p.agent_id));
  }
  // No WAL fsync: a pair lost to a host crash is reported again within a day
  // (soft data), and reports never wait on the disk behind event batches.
  rocksdb::WriteOptions wo;
  wo.sync = false;
  if (auto s = db_->Write(wo, &wb); !s.ok()) {
    return std::unexpected(db_error("write prevalence", s));
  }
  return {};
}

Result<std::vector<std::optional<std::uint32_t>>> Store::prevalence_days(
    const std::string& agent_id, const std::vector<std::uint64_t>& keys) {
  std::vector<std::string> encoded;
  encoded.reserve(keys.size());
  for (auto k : keys) {
    encoded.push_back(prevalence_key(k, agent_id));
  }
  std::vector<rocksdb::Slice> slices(encoded.begin(), encoded.end());
  std::vector<rocksdb::ColumnFamilyHandle*> cfs(keys.size(), cfs_[kPrevalence]);
  std::vector<std::string> values;
  const auto statuses = db_->MultiGet({}, cfs, slices, &values);
  std::vector<std::optional<std::uint32_t>> out(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) {
      continue;
    }
    if (!statuses[i].ok()) {
      return std::unexpected(db_error("get prevalence", statuses[i]));
    }
    if (values[i].size() == 4) {
      out[i] = static_cast<std::uint32_t>(get_be(values[i]));
    }
  }
  return out;
}

Result<std::vector<PrevalencePair>> Store::prevalence_pairs(const PrevalencePair* after,
                                                            std::size_t limit) {
  std::vector<PrevalencePair> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cfs_[kPrevalence]));
  std::string start;
  if (after != nullptr) {
    start = prevalence_key(after->key, after->agent_id);
    it->Seek(start);
    if (it->Valid() && it->key() == rocksdb::Slice(start)) {
      it->Next();
    }
  } else {
    it->SeekToFirst();
  }
  for (; it->Valid() && out.size() < limit; it->Next()) {
    const auto k = it->key().ToStringView();
    const auto v = it->value().ToStringView();
    if (k.size() <= 8 || v.size() != 4) {
      continue;
    }
    out.push_back({.key = get_be(k.substr(0, 8)),
                   .agent_id = std::string(k.substr(8)),
                   .day = static_cast<std::uint32_t>(get_be(v))});
  }
  if (!it->status().ok()) {
    return std::unexpected(db_error("scan prevalence", it->status()));
  }
  return out;
}

Result<void> Store::put_meta(const std::string& key, const std::string& value) {
  rocksdb::WriteBatch wb;
  wb.Put(cfs_[kMeta], meta_key(key), value);
  return write(wb);
}

Result<std::optional<std::string>> Store::get_meta(const std::string& key) {
  std::string value;
  auto s = db_->Get({}, cfs_[kMeta], meta_key(key), &value);
  if (s.IsNotFound()) {
    return std::optional<std::string>{};
  }
  if (!s.ok()) {
    return std::unexpected(db_error("get meta", s));
  }
  return std::optional<std::string>(std::move(value));
}

}  // namespace vigil::collector
