#include "vigil/collector/store.h"

#include <fmt/format.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <array>

#include "vigil/collector/keys.h"

namespace vigil::collector {
namespace {

constexpr std::array<const char*, kCfCount> kCfNames = {
    "default", "events", "alerts", "agents", "models", "feedback", "meta", "rule_packs"};

constexpr std::uint32_t kDefaultLimit = 100;
constexpr std::uint32_t kMaxLimit = 10000;

// Where a query page starts: after the token's key, or at `since_ns` (oldest
// first) / at `until` (newest first, `since_ns` empty).
struct Page {
  std::uint32_t limit;
  std::uint64_t until;
  std::string start;
  bool skip_first;  // the start key is the previous page's last: skip it
};

Result<Page> page_of(const std::string& token, std::uint32_t limit, std::uint64_t until_ns,
                     std::uint64_t now_ns, std::optional<std::uint64_t> since_ns) {
  Page page{limit == 0 ? kDefaultLimit : std::min(limit, kMaxLimit),
            until_ns == 0 ? now_ns + 1 : until_ns,
            {},
            false};
  if (!token.empty()) {
    auto key = from_hex(token);
    // Every key starts with an 8-byte timestamp; event keys also carry seq and agent.
    if (!key || key->size() < (since_ns ? 17U : 9U)) {
      return make_error(ErrorCode::kInvalidArgument, "malformed page_token");
    }
    page.start = std::move(*key);
    page.skip_first = true;
  } else {
    put_be64(page.start, since_ns.value_or(page.until));
  }
  return page;
}

Error db_error(const char* what, const rocksdb::Status& s) {
  return Error{ErrorCode::kIo, fmt::format("rocksdb {}: {}", what, s.ToString())};
}

std::uint64_t sec_to_ns(std::uint64_t s) { return s * 1'000'000'000ULL; }

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

Result<std::uint64_t> Store::register_agent(const v1::Hello& hello, std::uint64_t now_ns) {
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
                                   std::uint64_t now_ns) {
  std::lock_guard lock(mu_);
  if (auto r = check_space(); !r) {
    return std::unexpected(r.error());
  }
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) {
    return make_error(ErrorCode::kNotFound, "batch before hello from " + agent_id);
  }
  v1::AgentRecord rec = it->second;  // committed to agents_ only after the write
  IngestResult result;
  result.previous_acked_seq = rec.acked_seq();
  rocksdb::WriteBatch wb;
  v1::StoredEvent stored;
  stored.set_agent_id(agent_id);
  stored.set_host(rec.host_id());
  std::string value;
  for (const auto& e : batch.events()) {
    if (e.seq() <= rec.acked_seq()) {
      ++result.duplicates;
      continue;
    }
    *stored.mutable_event() = e;
    stored.SerializeToString(&value);
    wb.Put(cfs_[kEvents], event_key(e.ts_ns(), e.seq(), agent_id), value);
    ++result.stored;
    if (e.alert_id().empty()) {
      continue;
    }
    const std::string id = agent_id + ":" + e.alert_id();
    auto existing = find_alert(id);
    if (!existing) {
      return std::unexpected(existing.error());
    }
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
    result.alerts.push_back(std::move(alert));
  }
  rec.set_acked_seq(std::max(rec.acked_seq(), batch.last_seq()));
  rec.set_events_stored(rec.events_stored() + result.stored);
  rec.set_duplicates(rec.duplicates() + result.duplicates);
  rec.set_last_seen_ns(now_ns);
  wb.Put(cfs_[kAgents], agent_id, rec.SerializeAsString());
  if (auto r = write(wb); !r) {
    return std::unexpected(r.error());
  }
  it->second = std::move(rec);
  result.acked_seq = it->second.acked_seq();
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
  auto page = page_of(req.page_token(), req.limit(), req.until_ns(), now_ns, req.since_ns());
  if (!page) {
    return std::unexpected(page.error());
  }
  const auto& [limit, until, start, skip_first] = *page;
  v1::QueryEventsResponse resp;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cfs_[kEvents]));
  v1::StoredEvent ev;
  std::string last_key;
  for (it->Seek(start); it->Valid(); it->Next()) {
    const auto key = it->key();
    if (skip_first && key.ToString() == start) {
      continue;
    }
    auto parsed = parse_event_key(std::string_view(key.data(), key.size()));
    if (!parsed || parsed->ts_ns >= until) {
      break;
    }
    if (!req.agent_id().empty() && parsed->agent_id != req.agent_id()) {
      continue;
    }
    if (!ev.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      continue;  // unreadable records are skipped, never fatal to a query
    }
    if ((!req.host().empty() && ev.host() != req.host()) ||
        (!req.type().empty() && ev.event().type() != req.type()) ||
        ev.event().score() < req.min_score()) {
      continue;
    }
    if (static_cast<std::uint32_t>(resp.events_size()) == limit) {
      resp.set_next_page_token(to_hex(last_key));
      break;
    }
    *resp.add_events() = ev;
    last_key = key.ToString();
  }
  if (!it->status().ok()) {
    return std::unexpected(db_error("scan events", it->status()));
  }
  return resp;
}

Result<v1::QueryAlertsResponse> Store::query_alerts(const v1::QueryAlertsRequest& req,
                                                    std::uint64_t now_ns) {
  // Newest first: the scan starts at `until` and walks back.
  auto page = page_of(req.page_token(), req.limit(), req.until_ns(), now_ns, std::nullopt);
  if (!page) {
    return std::unexpected(page.error());
  }
  const auto& [limit, until, start, skip_first] = *page;
  v1::QueryAlertsResponse resp;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cfs_[kAlerts]));
  v1::Alert alert;
  std::string last_key;
  for (it->SeekForPrev(start); it->Valid(); it->Prev()) {
    const auto key = it->key();
    if (key.size() < 8) {
      continue;
    }
    if (skip_first && key.ToString() == start) {
      continue;
    }
    const std::uint64_t ts = get_be64(std::string_view(key.data(), key.size()), 0);
    if (ts >= until) {
      continue;
    }
    if (ts < req.since_ns()) {
      break;
    }
    if (!alert.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      continue;
    }
    const bool host_match =
        req.host().empty() || std::ranges::find(alert.hosts(), req.host()) != alert.hosts().end();
    if (!host_match || alert.score() < req.min_score() || (req.fleet_only() && !alert.fleet())) {
      continue;
    }
    if (static_cast<std::uint32_t>(resp.alerts_size()) == limit) {
      resp.set_next_page_token(to_hex(last_key));
      break;
    }
    *resp.add_alerts() = alert;
    last_key = key.ToString();
  }
  if (!it->status().ok()) {
    return std::unexpected(db_error("scan alerts", it->status()));
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
