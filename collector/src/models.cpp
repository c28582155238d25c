#include "vigil/collector/models.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "vigil/log.h"
#include "vigil/scoring.h"

namespace vigil::collector {
namespace {

constexpr std::uint64_t kNs = 1'000'000'000ULL;
constexpr const char* kRolloutKey = "rollout";

std::string to_hex(std::string_view raw) {
  std::string hex(raw.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(raw.data()),
                 raw.size());
  hex.pop_back();
  return hex;
}

// The sample an agent's stored event describes, if it carries this build's features.
bool features_of(const v1::Event& e, FeatureVector& x) {
  if (e.feature_schema() != kFeatureSchemaVersion) {
    return false;
  }
  x.fill(0.0F);
  for (int i = 0; i < e.feature_slots_size(); ++i) {
    if (e.feature_slots(i) >= kFeatureCount) {
      return false;
    }
    x[e.feature_slots(i)] = e.feature_values(i);
  }
  return true;
}

}  // namespace

ModelManager::ModelManager(Store& store, ModelConfig config, AgentLink link)
    : store_(store), config_(std::move(config)), link_(std::move(link)) {
  rollout_.set_phase("idle");
}

ModelManager::~ModelManager() {
  stopping_ = true;
  if (evo_thread_.joinable()) {
    evo_thread_.join();
  }
}

Result<void> ModelManager::init(std::string_view shipped_model, std::uint64_t now_ns) {
  if (sodium_init() < 0) {
    return make_error(ErrorCode::kInternal, "libsodium failed to initialise");
  }
  last_scheduled_ns_ = now_ns;
  // The signing key: created once, kept with mode 0600.
  std::ifstream in(config_.signing_key);
  if (in) {
    std::string hex;
    in >> hex;
    std::string sk(crypto_sign_SECRETKEYBYTES, '\0');
    std::size_t len = 0;
    if (sodium_hex2bin(reinterpret_cast<unsigned char*>(sk.data()), sk.size(), hex.data(),
                       hex.size(), nullptr, &len, nullptr) != 0 ||
        len != crypto_sign_SECRETKEYBYTES) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: not a hex ed25519 secret key ({} hex characters)",
                                    config_.signing_key.string(), 2 * crypto_sign_SECRETKEYBYTES));
    }
    secret_key_ = std::move(sk);
    public_key_.assign(crypto_sign_PUBLICKEYBYTES, '\0');
    crypto_sign_ed25519_sk_to_pk(reinterpret_cast<unsigned char*>(public_key_.data()),
                                 reinterpret_cast<const unsigned char*>(secret_key_.data()));
  } else {
    secret_key_.assign(crypto_sign_SECRETKEYBYTES, '\0');
    public_key_.assign(crypto_sign_PUBLICKEYBYTES, '\0');
    crypto_sign_keypair(reinterpret_cast<unsigned char*>(public_key_.data()),
                        reinterpret_cast<unsigned char*>(secret_key_.data()));
    const int fd =
        ::open(config_.signing_key.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    const std::string hex = to_hex(secret_key_) + "\n";
    if (fd < 0 || ::write(fd, hex.data(), hex.size()) != static_cast<ssize_t>(hex.size())) {
      if (fd >= 0) ::close(fd);
      return make_error(ErrorCode::kIo,
                        fmt::format("cannot create signing key {}: {}",
                                    config_.signing_key.string(), std::strerror(errno)));
    }
    ::close(fd);
    std::ofstream(config_.signing_key.string() + ".pub") << public_key_hex() << '\n';
    VLOG_INFO("created model signing key {} (public key {})", config_.signing_key.string(),
              public_key_hex());
  }
  if (store_.models().empty() && !shipped_model.empty()) {
    v1::Model model;
    if (!model.ParseFromArray(shipped_model.data(), static_cast<int>(shipped_model.size()))) {
      return make_error(ErrorCode::kCorrupt, "the shipped model does not parse");
    }
    v1::ModelInfo info;
    info.set_state("active");  // what every agent runs out of the box
    info.set_created_ns(model.created_ns() != 0 ? model.created_ns() : now_ns);
    info.set_created_by(model.created_by().empty() ? "shipped" : model.created_by());
    auto rec = sign(model, info);
    if (!rec) {
      return std::unexpected(rec.error());
    }
    if (auto r = store_.put_model(*rec); !r) {
      return r;
    }
  }
  auto saved = store_.get_meta(kRolloutKey);
  if (!saved) {
    return std::unexpected(saved.error());
  }
  if (saved->has_value() && !rollout_.ParseFromString(**saved)) {
    return make_error(ErrorCode::kCorrupt, "stored rollout state is corrupt");
  }
  return {};
}

std::string ModelManager::public_key_hex() const { return to_hex(public_key_); }

Result<v1::ModelRecord> ModelManager::sign(const v1::Model& model, v1::ModelInfo info) {
  if (auto loaded = ScoringModel::load(model); !loaded) {
    return std::unexpected(loaded.error());  // only loadable models are ever signed
  }
  v1::ModelRecord rec;
  if (!model.SerializeToString(rec.mutable_model())) {
    return make_error(ErrorCode::kInternal, "model does not serialise");
  }
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(rec.model().data()),
                       rec.model().size(),
                       reinterpret_cast<const unsigned char*>(secret_key_.data()));
  rec.set_signature(sig);
  info.set_version(model.version());
  info.set_feature_schema_version(model.feature_schema_version());
  if (info.fitness() == 0) {
    info.set_fitness(model.fitness());
  }
  *rec.mutable_info() = std::move(info);
  return rec;
}

std::string ModelManager::active_version() {
  for (const auto& m : store_.models()) {
    if (m.info().state() == "active") {
      return m.info().version();
    }
  }
  return {};
}

void ModelManager::set_state(const std::string& version, const std::string& state) {
  auto rec = store_.get_model(version);
  if (rec && rec->has_value()) {
    (*rec)->mutable_info()->set_state(state);
    if (auto r = store_.put_model(**rec); !r) {
      VLOG_WARN("model {}: cannot record state {}: {}", version, state, r.error().message);
    }
  }
}

bool ModelManager::push(const std::string& agent_id, const std::string& version) {
  auto rec = store_.get_model(version);
  if (!rec || !rec->has_value()) {
    return false;
  }
  v1::ModelUpdate update;
  update.set_version(version);
  update.set_model((*rec)->model());
  update.set_signature((*rec)->signature());
  return link_.send(agent_id, update);
}

Result<void> ModelManager::save_rollout() {
  return store_.put_meta(kRolloutKey, rollout_.SerializeAsString());
}

v1::ListModelsResponse ModelManager::list() {
  v1::ListModelsResponse resp;
  auto models = store_.models();
  std::ranges::sort(models, [](const auto& a, const auto& b) {
    return a.info().created_ns() > b.info().created_ns();
  });
  for (const auto& m : models) {
    *resp.add_models() = m.info();
  }
  *resp.mutable_evolution() = evolution_status();
  resp.set_signing_public_key(public_key_hex());
  return resp;
}

Result<v1::GetModelResponse> ModelManager::get(const std::string& version) {
  auto rec = store_.get_model(version);
  if (!rec) {
    return std::unexpected(rec.error());
  }
  if (!rec->has_value()) {
    return make_error(ErrorCode::kNotFound, "no model " + version);
  }
  v1::GetModelResponse resp;
  *resp.mutable_info() = (*rec)->info();
  resp.set_model((*rec)->model());
  resp.set_signature((*rec)->signature());
  return resp;
}

Result<v1::ModelInfo> ModelManager::import(std::string_view model_bytes, std::uint64_t now_ns) {
  v1::Model model;
  if (!model.ParseFromArray(model_bytes.data(), static_cast<int>(model_bytes.size()))) {
    return make_error(ErrorCode::kInvalidArgument, "not a vigil.v1.Model protobuf");
  }
  if (auto loaded = ScoringModel::load(model); !loaded) {
    return std::unexpected(loaded.error());
  }
  std::lock_guard lock(mu_);
  auto existing = store_.get_model(model.version());
  if (!existing) {
    return std::unexpected(existing.error());
  }
  if (existing->has_value()) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("model {} is already registered", model.version()));
  }
  v1::ModelInfo info;
  info.set_state("candidate");
  info.set_created_ns(model.created_ns() != 0 ? model.created_ns() : now_ns);
  info.set_created_by(model.created_by().empty() ? "imported" : model.created_by());
  info.set_parent_version(active_version());
  auto rec = sign(model, info);
  if (!rec) {
    return std::unexpected(rec.error());
  }
  if (auto r = store_.put_model(*rec); !r) {
    return std::unexpected(r.error());
  }
  return rec->info();
}

// ---------------------------------------------------------------- evolution

evo::Dataset ModelManager::fleet_dataset(std::uint64_t now_ns) {
  const std::uint64_t since =
      now_ns > config_.evolve_window_s * kNs ? now_ns - config_.evolve_window_s * kNs : 0;
  evo::Dataset data;
  // (a) Analyst feedback: the strongest labels.
  std::set<std::string> labelled;
  store_.scan_alerts(since, [&](const v1::Alert& a) {
    evo::Sample s;
    if (!a.fleet() && !a.label().empty() && a.has_event() && features_of(a.event(), s.x)) {
      s.label = a.label() == "malicious" ? 1.0F : 0.0F;
      s.source = evo::LabelSource::kFeedback;
      s.weight = evo::default_weight(s.source);
      data.samples.push_back(s);
      labelled.insert(a.id());
    }
    return true;
  });
  // (b) High-confidence detector hits as weak positives, (c) ordinary fleet
  // behaviour as negatives, sampled (reservoir, fixed seed) to a bound.
  std::vector<evo::Sample> negatives;
  std::uint64_t seen_negatives = 0;
  std::uint64_t rng = 0x5eed;
  store_.scan_events(since, now_ns + 1, [&](const v1::StoredEvent& se) {
    const auto& e = se.event();
    evo::Sample s;
    if (!features_of(e, s.x)) {
      return true;
    }
    if (!e.alert_id().empty() && labelled.contains(se.agent_id() + ":" + e.alert_id())) {
      return true;  // already in as analyst feedback
    }
    if (e.score() >= config_.weak_positive_score) {
      s.label = 1;
      s.source = evo::LabelSource::kDetector;
      s.weight = evo::default_weight(s.source);
      data.samples.push_back(s);
    } else if (e.score() == 0 && e.indicators_size() == 0) {
      s.label = 0;
      s.source = evo::LabelSource::kFleetBaseline;
      s.weight = evo::default_weight(s.source);
      ++seen_negatives;
      if (negatives.size() < config_.evolve_max_negatives) {
        negatives.push_back(s);
      } else {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        const std::uint64_t j = (rng >> 11) % seen_negatives;
        if (j < negatives.size()) negatives[j] = s;
      }
    }
    return true;
  });
  data.samples.insert(data.samples.end(), negatives.begin(), negatives.end());
  return data;
}

v1::EvolutionStatus ModelManager::evolution_status() {
  std::lock_guard lock(evo_mu_);
  auto st = evo_status_;
  st.set_running(evolving_.load());
  return st;
}

Result<v1::EvolutionStatus> ModelManager::evolve_once(std::uint64_t now_ns) {
  const auto data = fleet_dataset(now_ns);
  const std::size_t positives = data.positives();
  const std::size_t negatives = data.samples.size() - positives;
  auto finish = [&](std::string result) {
    std::lock_guard lock(evo_mu_);
    evo_status_.set_last_run_ns(now_ns);
    evo_status_.set_last_result(std::move(result));
    evo_status_.set_runs(evo_status_.runs() + 1);
    VLOG_INFO("evolution: {}", evo_status_.last_result());
    auto st = evo_status_;
    st.set_running(false);
    return st;
  };
  if (positives < 4 || negatives < 10) {
    return finish(
        fmt::format("not enough labelled fleet data ({} positive, {} negative samples; "
                    "needs 4 and 10)",
                    positives, negatives));
  }
  const std::string parent = active_version();
  std::shared_ptr<const ScoringModel> current;
  std::vector<evo::FloorSpec> floors;
  std::vector<std::string> floor_ids;  // keeps the views in `floors` valid
  if (!parent.empty()) {
    auto rec = store_.get_model(parent);
    if (rec && rec->has_value()) {
      auto loaded = ScoringModel::load_bytes((*rec)->model());
      if (loaded) {
        current = *loaded;
        // Critical-indicator floors carry over from the model in service.
        for (const auto& f : current->proto().floors()) floor_ids.push_back(f.indicator());
        for (int i = 0; i < current->proto().floors_size(); ++i) {
          floors.push_back(
              {floor_ids[static_cast<std::size_t>(i)], current->proto().floors(i).score()});
        }
      }
    }
  }
  evo::TrainOptions opt;
  opt.evolution.population_size = config_.evolve_population;
  opt.evolution.generations = config_.evolve_generations;
  opt.evolution.workers = config_.evolve_workers;
  opt.evolution.seed = now_ns / kNs;
  opt.inner_folds = config_.evolve_inner_folds;
  opt.ensemble = config_.evolve_ensemble;
  opt.version = fmt::format("evo-{}", now_ns / kNs);
  opt.created_by =
      fmt::format("vigil-collector evolution seed={} generations={} population={}",
                  opt.evolution.seed, opt.evolution.generations, opt.evolution.population_size);
  opt.floors = floors;
  opt.current = current.get();
  opt.cancel = &stopping_;
  {
    std::lock_guard lock(evo_mu_);
    evo_status_.set_generations(static_cast<std::uint32_t>(opt.evolution.generations));
    evo_status_.set_generation(0);
  }
  auto result = evo::train(data, opt, [&](const evo::GenerationStats& st) {
    double best = 0;
    double mean = 0;
    for (std::size_t p = 0; p < kPopulations; ++p) {
      best += st.best[p] / kPopulations;
      mean += st.mean[p] / kPopulations;
    }
    if (st.generation % 10 == 0) {
      VLOG_INFO("evolution {}: generation {}/{} best fitness {:.4f} mean {:.4f}", opt.version,
                st.generation, opt.evolution.generations, best, mean);
    }
    std::lock_guard lock(evo_mu_);
    evo_status_.set_generation(static_cast<std::uint32_t>(st.generation));
    evo_status_.set_best_fitness(best);
    evo_status_.set_mean_fitness(mean);
  });
  if (!result) {
    return finish("evolution failed: " + result.error().message);
  }
  const auto& rep = result->report;
  {
    // With inner validation, the run kept the generation count it chose.
    std::lock_guard lock(evo_mu_);
    evo_status_.set_generations(static_cast<std::uint32_t>(rep.generations_run));
    evo_status_.set_generation(static_cast<std::uint32_t>(rep.generations_run));
  }
  // The same rule as vigil-evolve --keep-best (evo::accepts).
  const auto verdict = evo::accepts(rep.evolved, rep.current,
                                    {config_.min_improvement, config_.all_events_tolerance});
  if (current && !verdict.accepted) {
    return finish(fmt::format(
        "candidate {} not kept: held-out AUC {:.4f} TPR {:.4f} vs {} AUC {:.4f} TPR {:.4f}; {}",
        opt.version, rep.evolved.auc, rep.evolved.tpr, parent, rep.current.auc, rep.current.tpr,
        verdict.reason));
  }
  result->model.set_created_ns(now_ns);
  v1::ModelInfo info;
  info.set_state("candidate");
  info.set_created_ns(now_ns);
  info.set_created_by(opt.created_by);
  info.set_parent_version(parent);
  info.set_data_from_ns(
      now_ns > config_.evolve_window_s * kNs ? now_ns - config_.evolve_window_s * kNs : 0);
  info.set_data_to_ns(now_ns);
  info.set_samples(data.samples.size());
  info.set_positives(positives);
  info.set_heldout_auc(rep.evolved.auc);
  info.set_heldout_tpr(rep.evolved.tpr);
  info.set_parent_auc(rep.current.auc);
  info.set_parent_tpr(rep.current.tpr);
  auto rec = sign(result->model, info);
  if (!rec) {
    return finish("evolved model refused: " + rec.error().message);
  }
  if (auto r = store_.put_model(*rec); !r) {
    return finish("cannot store the candidate: " + r.error().message);
  }
  return finish(fmt::format(
      "registered candidate {}: held-out AUC {:.4f} TPR {:.4f} (parent {} AUC {:.4f} TPR {:.4f}); "
      "{} samples, {} positive; {} of {} generations",
      opt.version, rep.evolved.auc, rep.evolved.tpr, parent.empty() ? "none" : parent,
      rep.current.auc, rep.current.tpr, data.samples.size(), positives, rep.generations_run,
      opt.evolution.generations));
}

v1::EvolutionStatus ModelManager::evolve_async(std::uint64_t now_ns) {
  bool expected = false;
  if (!evolving_.compare_exchange_strong(expected, true)) {
    return evolution_status();  // one run at a time
  }
  if (evo_thread_.joinable()) {
    evo_thread_.join();
  }
  evo_thread_ = std::thread([this, now_ns] {
    (void)evolve_once(now_ns);
    evolving_ = false;
  });
  return evolution_status();
}

// ------------------------------------------------------------------ rollout

void ModelManager::refresh_counts() {
  const auto connected = link_.connected();
  std::uint32_t updated = 0;
  for (const auto& id : connected) {
    if (auto rec = store_.agent(id); rec && rec->model_version() == rollout_.version()) {
      ++updated;
    }
  }
  rollout_.set_agents_total(static_cast<std::uint32_t>(connected.size()));
  rollout_.set_agents_updated(updated);
}

v1::RolloutStatus ModelManager::status() {
  std::lock_guard lock(mu_);
  refresh_counts();
  return rollout_;
}

Result<v1::RolloutStatus> ModelManager::rollout(const std::string& version, double canary_fraction,
                                                std::uint64_t soak_s, std::uint64_t now_ns) {
  if (!std::isfinite(canary_fraction) || canary_fraction <= 0 || canary_fraction > 1) {
    return make_error(ErrorCode::kInvalidArgument, "canary_fraction must be in (0, 1]");
  }
  std::lock_guard lock(mu_);
  if (rollout_.phase() == "canary") {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("rollout of {} is in its canary phase: wait or roll back", rollout_.version()));
  }
  auto rec = store_.get_model(version);
  if (!rec) {
    return std::unexpected(rec.error());
  }
  if (!rec->has_value()) {
    return make_error(ErrorCode::kNotFound, "no model " + version);
  }
  const std::string previous = active_version();
  if (previous == version) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("{} is already active", version));
  }
  auto agents = link_.connected();
  if (agents.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "no agents connected to roll out to");
  }
  std::ranges::sort(agents);
  const auto n = std::max<std::size_t>(
      1, static_cast<std::size_t>(std::ceil(canary_fraction * static_cast<double>(agents.size()))));
  rollout_.Clear();
  rollout_.set_version(version);
  rollout_.set_phase("canary");
  rollout_.set_previous_version(previous);
  rollout_.set_started_ns(now_ns);
  rollout_.set_soak_s(soak_s);
  for (std::size_t i = 0; i < n && i < agents.size(); ++i) {
    rollout_.add_canary_agents(agents[i]);
    push(agents[i], version);
  }
  rollout_.set_reason(fmt::format("canary: {} of {} agents for {} s", n, agents.size(), soak_s));
  set_state(version, "canary");
  if (auto r = save_rollout(); !r) {
    return std::unexpected(r.error());
  }
  VLOG_INFO("model rollout {}: {}", version, rollout_.reason());
  refresh_counts();
  return rollout_;
}

Result<v1::RolloutStatus> ModelManager::rollback(const std::string& reason, std::uint64_t now_ns) {
  std::lock_guard lock(mu_);
  const auto phase = rollout_.phase();
  if ((phase != "canary" && phase != "fleet") || rollout_.previous_version().empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("nothing to roll back (rollout phase {})", phase));
  }
  const std::string bad = rollout_.version();
  const std::string good = rollout_.previous_version();
  for (const auto& id : link_.connected()) {
    push(id, good);
  }
  set_state(bad, "rolled_back");
  set_state(good, "active");
  rollout_.set_phase("rolled_back");
  rollout_.set_reason(reason.empty() ? "rolled back by an operator" : reason);
  rollout_.set_started_ns(now_ns);
  if (auto r = save_rollout(); !r) {
    return std::unexpected(r.error());
  }
  VLOG_WARN("model rollout {} rolled back to {}: {}", bad, good, rollout_.reason());
  refresh_counts();
  return rollout_;
}

void ModelManager::tick(std::uint64_t now_ns) {
  {
    std::lock_guard lock(mu_);
    if (rollout_.phase() == "canary" && now_ns >= rollout_.started_ns() + rollout_.soak_s() * kNs) {
      // The health gate: every canary agent is connected and runs the version.
      std::string failure;
      for (const auto& id : rollout_.canary_agents()) {
        auto rec = store_.agent(id);
        if (!rec || !rec->connected()) {
          failure = fmt::format("canary agent {} is not connected", id);
        } else if (rec->model_version() != rollout_.version()) {
          failure = fmt::format("canary agent {} runs {} (refused or failed to load {})", id,
                                rec->model_version(), rollout_.version());
        }
        if (!failure.empty()) break;
      }
      if (failure.empty()) {
        const std::string version = rollout_.version();
        set_state(rollout_.previous_version(), "retired");
        set_state(version, "active");
        for (const auto& id : link_.connected()) {
          if (auto rec = store_.agent(id); !rec || rec->model_version() != version) {
            push(id, version);
          }
        }
        rollout_.set_phase("fleet");
        rollout_.set_reason(
            fmt::format("canary healthy after {} s: rolled out to the fleet", rollout_.soak_s()));
        VLOG_INFO("model rollout {}: {}", version, rollout_.reason());
        if (auto r = save_rollout(); !r) {
          VLOG_WARN("rollout state not saved: {}", r.error().message);
        }
      } else {
        // Automatic rollback: the canary agents go back to the previous model.
        for (const auto& id : rollout_.canary_agents()) {
          push(id, rollout_.previous_version());
        }
        set_state(rollout_.version(), "rolled_back");
        rollout_.set_phase("rolled_back");
        rollout_.set_reason("canary gate failed: " + failure);
        VLOG_WARN("model rollout {}: {}", rollout_.version(), rollout_.reason());
        if (auto r = save_rollout(); !r) {
          VLOG_WARN("rollout state not saved: {}", r.error().message);
        }
      }
    }
  }
  const bool scheduled = config_.evolve_interval_s > 0 &&
                         now_ns >= last_scheduled_ns_ + config_.evolve_interval_s * kNs;
  const bool feedback =
      config_.evolve_feedback_trigger > 0 && new_feedback_ >= config_.evolve_feedback_trigger;
  if (scheduled || feedback) {
    last_scheduled_ns_ = now_ns;
    new_feedback_ = 0;
    evolve_async(now_ns);
  }
}

void ModelManager::on_hello(const std::string& agent_id, const std::string& model_version) {
  std::string desired;
  {
    std::lock_guard lock(mu_);
    if (rollout_.phase() == "canary" &&
        std::ranges::find(rollout_.canary_agents(), agent_id) != rollout_.canary_agents().end()) {
      desired = rollout_.version();
    } else {
      desired = active_version();
    }
  }
  if (!desired.empty() && desired != model_version) {
    push(agent_id, desired);
  }
}

}  // namespace vigil::collector
