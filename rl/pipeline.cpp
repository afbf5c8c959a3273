// Pipeline files (see pipeline.h): reading, checking references, hashing, and each stage's recipe.
#include "rl/pipeline.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "experiments/recipe_loader.h"
#include "experiments/sha256.h"
#include "text/value_binder.h"

namespace fs = std::filesystem;

namespace r1::rl {

namespace {

using experiments::ConfigError;
using text::Value;

constexpr std::string_view kStagePrefix = "stage:";

struct PipelineConfig {
  std::string name;
  int64_t seed = 0;
  std::string out_dir = "runs";

  template <class V>
  void visit(V& v) {
    v("name", name, "the pipeline's name in the store; empty = the file's stem");
    v("seed", seed, "every stage's run.seed unless the stage sets one; 0 = the stages' own", 0, 9.0e18);
    v("out_dir", out_dir, "every stage's run.out_dir unless the stage sets one (relative to the pipeline file)");
  }
};

const std::vector<std::pair<StageKind, std::string_view>> kKinds = {
    {StageKind::pretrain, "pretrain"}, {StageKind::sft, "sft"}, {StageKind::grpo, "grpo"}, {StageKind::sample, "sample"}, {StageKind::eval, "eval"},
    {StageKind::distill, "distill"}};

[[noreturn]] void fail(const text::Origin& at, const std::string& stage, const std::string& msg) {
  throw ConfigError(at.str() + ": stage '" + stage + "': " + msg);
}

// "stage:NAME" -> NAME; anything else -> "".
std::string referenced_stage(const std::string& s) {
  return s.rfind(kStagePrefix, 0) == 0 ? s.substr(kStagePrefix.size()) : std::string();
}

// Applies "stage.NAME.rest=value" to that stage's table, anything else to the root.
void apply_sets(Value& root, const std::vector<std::string>& sets) {
  for (const auto& set : sets) {
    if (set.rfind("stage.", 0) != 0) {
      experiments::apply_set(root, set);
      continue;
    }
    const size_t dot = set.find('.', 6), eq = set.find('=');
    if (dot == std::string::npos || eq == std::string::npos || dot > eq)
      throw ConfigError("--set " + set + ": expected stage.NAME.section.key=value");
    const std::string name = set.substr(6, dot - 6);
    Value* stages = root.find("stage");
    Value* target = nullptr;
    if (stages && stages->is_array())
      for (auto& s : stages->as_array())
        if (s.is_object() && s["name"].is_string() && s["name"].as_string() == name) target = &s;
    if (!target) throw ConfigError("--set " + set + ": no stage named '" + name + "'");
    experiments::apply_set(*target, set.substr(dot + 1));
  }
}

// The stage's `include`d recipe files (relative to the file that names them), then its own keys.
Value merge_includes(const Value& own, const std::string& stage) {
  Value merged(Value::Object{});
  if (const Value* inc = own.find("include")) {
    std::vector<Value> names;
    if (inc->is_string()) names.push_back(*inc);
    else if (inc->is_array()) names = inc->as_array();
    else fail(inc->origin(), stage, "include: expected a file name or a list of them");
    for (const Value& n : names) {
      if (!n.is_string()) fail(n.origin(), stage, "include: expected file names (strings), got " + n.type_name());
      const std::string file = text::resolve_path(n.as_string(), n.origin());
      if (!fs::exists(file)) fail(n.origin(), stage, "include: recipe " + file + " not found");
      experiments::merge_into(merged, experiments::load_recipe(file, {}).tree);
    }
  }
  Value rest = own;
  rest.erase("include");
  experiments::merge_into(merged, rest);
  merged.set_origin(own.origin());
  return merged;
}

// Takes the reference out of `model` (a string, or a table's `from`) or `data` (a string).
std::string take_reference(Value& tables, const char* key, const std::string& stage, bool table_may_refer) {
  Value* v = tables.find(key);
  if (!v) return "";
  if (v->is_string()) {
    std::string s = v->as_string();
    std::string ref = referenced_stage(s);
    if (ref.empty() && (std::string(key) == "model" || std::string(key) == "teacher")) {  // a folder: model.path, distill.teacher
      const bool teacher = std::string(key) == "teacher";
      Value folder = *v;
      tables.erase(key);
      Value* table = tables.find(teacher ? "distill" : "model");
      if (!table) {
        Value t(Value::Object{});
        t.set_origin(folder.origin());
        tables.set(teacher ? "distill" : "model", t);
        table = tables.find(teacher ? "distill" : "model");
      }
      table->set(teacher ? "teacher" : "path", folder);
      return "";
    }
    if (ref.empty()) fail(v->origin(), stage, std::string(key) + ": expected \"stage:NAME\" (the [" + key + "] table is written as a table)");
    tables.erase(key);
    return ref;
  }
  if (table_may_refer && v->is_object())
    if (Value* from = v->find("from")) {
      if (!from->is_string() || referenced_stage(from->as_string()).empty())
        fail(from->origin(), stage, std::string(key) + ".from: expected \"stage:NAME\"");
      std::string ref = referenced_stage(from->as_string());
      v->erase("from");
      return ref;
    }
  return "";
}

const text::Origin& origin_of(const Value& tables, const char* key, const text::Origin& fallback) {
  const Value* v = tables.find(key);
  return v ? v->origin() : fallback;
}

// The table `key` of `root`, created empty when absent.
Value& table_of(Value& root, const char* key) {
  if (!root.find(key)) root.set(key, Value(Value::Object{}));
  return *root.find(key);
}

// The stage's tables with the pipeline's defaults where the stage sets none.
Value with_defaults(const Pipeline& p, const PipelineStage& s) {
  Value t = s.tables;
  Value* run = &table_of(t, "run");
  if (!run->find("name")) run->set("name", Value(p.name + "." + s.name));
  if (!run->find("out_dir")) run->set("out_dir", Value(p.out_dir));
  if (p.seed > 0 && !run->find("seed")) run->set("seed", Value(p.seed));
  return t;
}

// Content hash of an input: a file's bytes; a folder's file names and bytes (files over 64 MiB
// by name, size and modification time, so a large model folder is not read at every start).
std::string input_hash(const std::string& path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return experiments::sha256_file(path);
  if (!fs::is_directory(path, ec)) return "absent";
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(path, ec))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::string text;
  for (const auto& f : files) {
    const auto size = fs::file_size(f, ec);
    text += fs::relative(f, path, ec).string() + " ";
    if (size > (64u << 20))
      text += std::to_string(size) + "@" + std::to_string(fs::last_write_time(f, ec).time_since_epoch().count()) + "\n";
    else
      text += experiments::sha256_file(f.string()) + "\n";
  }
  return experiments::sha256_text(text);
}

std::vector<std::string> input_paths(const Recipe& r) {
  std::vector<std::string> in{r.model.path, r.model.init, r.model.tokenizer, r.data.path, r.eval.path};
  in.insert(in.end(), r.lm.corpus.begin(), r.lm.corpus.end());
  in.insert(in.end(), r.lm.mix.begin(), r.lm.mix.end());
  for (const auto& spec : r.rewards) in.push_back(spec.plugin);
  in.push_back(r.distill.teacher_tokenizer);
  if (r.distill.teacher.find("<teacher: stage ") == std::string::npos) in.push_back(r.distill.teacher);
  in.erase(std::remove(in.begin(), in.end(), std::string()), in.end());
  return in;
}

void check_reference(const Pipeline& p, size_t at, const std::string& ref, const char* key, const text::Origin& where) {
  const PipelineStage& s = p.stages[at];
  auto it = std::find_if(p.stages.begin(), p.stages.end(), [&](const PipelineStage& o) { return o.name == ref; });
  if (it == p.stages.end()) {
    std::string names;
    for (const auto& o : p.stages) names += (names.empty() ? "" : ", ") + o.name;
    fail(where, s.name, std::string(key) + ": unknown stage '" + ref + "' (stages: " + names + ")");
  }
  const size_t target = static_cast<size_t>(it - p.stages.begin());
  if (target >= at) {
    // Follow the target's own references: coming back here is a cycle; otherwise it merely runs later.
    std::vector<std::string> path{s.name};
    std::set<std::string> seen;
    std::string cycle;
    for (std::string cur = ref; !cur.empty() && seen.insert(cur).second;) {
      path.push_back(cur);
      if (cur == s.name) {
        for (size_t i = 0; i < path.size(); ++i) cycle += (i ? " -> " : "") + path[i];
        break;
      }
      const PipelineStage* next = p.find(cur);
      cur = next ? (next->model_from.empty() ? next->data_from : next->model_from) : "";
    }
    if (!cycle.empty()) fail(where, s.name, std::string(key) + ": a cycle of references: " + cycle);
    fail(where, s.name, std::string(key) + ": stage '" + ref + "' runs after this one; a stage's inputs come from earlier stages");
  }
  if (std::string(key) != "data" && !makes_model(it->kind))
    fail(where, s.name, std::string(key) + ": stage '" + ref + "' is a " + std::string(to_string(it->kind)) + " stage and makes no model");
  if (std::string(key) == "data" && it->kind != StageKind::sample)
    fail(where, s.name, "data: stage '" + ref + "' is a " + std::string(to_string(it->kind)) + " stage; data comes from a sample stage");
}

PipelineStage read_stage(const Value& entry, const std::string& file, int64_t pipeline_seed) {
  PipelineStage s;
  s.origin = entry.origin();
  if (!entry.is_object()) throw ConfigError(s.origin.str() + ": [[stage]]: expected a table");
  const Value* name = entry.find("name");
  if (!name || !name->is_string() || name->as_string().empty())
    throw ConfigError(s.origin.str() + ": [[stage]]: every stage needs a name (name = \"...\")");
  s.name = name->as_string();
  for (char c : s.name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'))
      fail(name->origin(), s.name, "name: letters, digits, '_' and '-' only");
  const Value* kind = entry.find("kind");
  std::string kinds;
  for (const auto& [k, n] : kKinds) kinds += (kinds.empty() ? "" : " | ") + std::string(n);
  if (!kind || !kind->is_string()) fail(s.origin, s.name, "kind: expected one of " + kinds);
  auto k = std::find_if(kKinds.begin(), kKinds.end(), [&](const auto& e) { return e.second == kind->as_string(); });
  if (k == kKinds.end()) fail(kind->origin(), s.name, "kind: '" + kind->as_string() + "' is not one of " + kinds);
  s.kind = k->first;

  Value own = entry;
  own.erase("name");
  own.erase("kind");
  if (const Value* sample = own.find("sample")) {
    if (s.kind != StageKind::sample) fail(sample->origin(), s.name, "sample: only a sample stage takes a [stage.sample] table");
    text::bind_table(*sample, "stage." + s.name + ".sample", s.sample, file);
    own.erase("sample");
  }
  s.tables = merge_includes(own, s.name);
  // The pipeline names, seeds and places its stages' runs unless the stage itself says otherwise
  // (an included recipe's run.name = "smoke" does not count).
  const Value* own_run = own.find("run");
  if (Value* run = s.tables.find("run"); run && run->is_object())
    for (const char* key : {"name", "seed", "out_dir"})
      if (!(own_run && own_run->is_object() && own_run->find(key)) && (std::string(key) != "seed" || pipeline_seed > 0)) run->erase(key);
  s.model_from = take_reference(s.tables, "model", s.name, true);
  s.data_from = take_reference(s.tables, "data", s.name, false);
  if (const Value* t = s.tables.find("teacher"); t && s.kind != StageKind::distill)
    fail(t->origin(), s.name, "teacher: only a distill stage has a teacher");
  s.teacher_from = take_reference(s.tables, "teacher", s.name, false);
  if (!s.data_from.empty() && s.kind != StageKind::sft && s.kind != StageKind::distill)
    fail(origin_of(entry, "data", s.origin), s.name, "data: only an sft or distill stage trains on another stage's samples");
  return s;
}

std::string stage_hash(const Pipeline& p, const PipelineStage& s, const std::string& previous) {
  // A teacher from an earlier stage does not exist yet: a stand-in name, whose absence alone is allowed.
  Value t = with_defaults(p, s);
  const std::string stand_in = "<teacher: stage " + s.teacher_from + ">";
  if (!s.teacher_from.empty()) table_of(t, "distill").set("teacher", Value(stand_in));
  ResolvedRecipe r = bind_recipe(t, p.path, s.teacher_from.empty());
  for (const auto& missing : r.missing_inputs)
    if (missing.find(stand_in) == std::string::npos) throw ConfigError(missing);
  SampleConfig sample = s.sample;  // to_tree visits (and so takes) a mutable struct
  // How ranks talk ([dist]) changes nothing a stage computes: it is not part of the hash.
  Value hashed = r.resolved;
  hashed.erase("dist");
  std::string text = std::string(to_string(s.kind)) + "\n" + experiments::to_json(hashed) + "\n" +
                     experiments::to_json(text::to_tree(sample)) + "\nmodel:" + s.model_from +
                     "\ndata:" + s.data_from + "\nteacher:" + s.teacher_from + "\nafter:" + previous + "\n";
  for (const auto& in : input_paths(r.recipe)) text += in + " " + input_hash(in) + "\n";
  return experiments::sha256_text(text);
}

}  // namespace

std::string_view to_string(StageKind k) {
  for (const auto& [kind, name] : kKinds)
    if (kind == k) return name;
  return "?";
}

bool makes_model(StageKind k) { return k == StageKind::pretrain || k == StageKind::sft || k == StageKind::grpo || k == StageKind::distill; }

const PipelineStage* Pipeline::find(const std::string& stage) const {
  for (const auto& s : stages)
    if (s.name == stage) return &s;
  return nullptr;
}

Pipeline load_pipeline(const std::string& path, const std::vector<std::string>& sets) {
  experiments::RecipeSource src = experiments::load_recipe(path, {});
  Value root = src.tree;
  apply_sets(root, sets);
  for (const auto& [key, v] : root.as_object())
    if (key != "pipeline" && key != "stage")
      throw ConfigError(v.origin().str() + ": " + key + ": a pipeline file has [pipeline] and [[stage]] entries only");
  Pipeline p;
  p.path = fs::absolute(path).lexically_normal().string();
  PipelineConfig cfg;
  if (const Value* t = root.find("pipeline")) text::bind_table(*t, "pipeline", cfg, path);
  p.name = cfg.name.empty() ? fs::path(path).stem().string() : cfg.name;
  p.seed = cfg.seed;
  // Relative to the pipeline file, like every other path in it: the same file run from another
  // folder finds its stages' outputs.
  p.out_dir = (fs::path(p.path).parent_path() / cfg.out_dir).lexically_normal().string();
  const Value* stages = root.find("stage");
  if (!stages || !stages->is_array() || stages->size() == 0)
    throw ConfigError(path + ": a pipeline needs [[stage]] entries (name, kind, and the stage's recipe tables)");
  for (const auto& entry : stages->as_array()) {
    PipelineStage s = read_stage(entry, path, p.seed);
    if (p.find(s.name)) fail(s.origin, s.name, "name: two stages share this name");
    p.stages.push_back(std::move(s));
  }
  for (size_t i = 0; i < p.stages.size(); ++i) {
    const PipelineStage& s = p.stages[i];
    if (!s.model_from.empty()) check_reference(p, i, s.model_from, "model", origin_of(stages->as_array()[i], "model", s.origin));
    if (!s.data_from.empty()) check_reference(p, i, s.data_from, "data", origin_of(stages->as_array()[i], "data", s.origin));
    if (!s.teacher_from.empty()) check_reference(p, i, s.teacher_from, "teacher", origin_of(stages->as_array()[i], "teacher", s.origin));
    const Value* model = s.tables.find("model");
    const bool own_model = model && model->is_object() && ((*model)["path"].is_string() && !(*model)["path"].as_string().empty());
    const bool init = model && model->is_object() && (*model)["init"].is_string() && !(*model)["init"].as_string().empty();
    if (s.model_from.empty() && !own_model && !(init && makes_model(s.kind)))
      fail(s.origin, s.name, "model: a " + std::string(to_string(s.kind)) +
                                 " stage needs a model: model = \"stage:NAME\", a folder, or [stage.model] path" +
                                 (makes_model(s.kind) ? " / init" : ""));
  }
  std::string previous;
  for (auto& s : p.stages) {
    try {
      previous = s.hash = stage_hash(p, s, previous);
    } catch (const ConfigError& e) {  // "file:line: key: why" -> "file:line: stage 'x': key: why"
      std::string msg = e.what();
      const size_t at = msg.find(": ");
      throw ConfigError(at == std::string::npos ? "stage '" + s.name + "': " + msg
                                                : msg.substr(0, at + 2) + "stage '" + s.name + "': " + msg.substr(at + 2));
    }
  }
  return p;
}

ResolvedRecipe stage_recipe(const Pipeline& p, const PipelineStage& s, const std::map<std::string, StageOutput>& outputs) {
  Value t = with_defaults(p, s);
  auto output_of = [&](const std::string& stage) -> const StageOutput& {
    auto it = outputs.find(stage);
    if (it == outputs.end()) throw ConfigError(p.path + ": stage '" + s.name + "' needs stage '" + stage + "', which has not run");
    return it->second;
  };
  if (!s.model_from.empty()) {
    Value& model = table_of(t, "model");
    model.set("path", Value(output_of(s.model_from).model_dir));
    model.erase("init");
  }
  if (!s.data_from.empty()) {
    Value& lm = table_of(t, "lm");
    Value::Array corpus{Value(output_of(s.data_from).data_file)};
    if (const Value* own = lm.find("corpus"); own && own->is_array())
      for (const auto& f : own->as_array()) corpus.push_back(f);
    lm.set("corpus", Value(corpus));
  }
  if (!s.teacher_from.empty()) table_of(t, "distill").set("teacher", Value(output_of(s.teacher_from).model_dir));
  return bind_recipe(t, p.path);
}

}  // namespace r1::rl
