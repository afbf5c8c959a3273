// `r1 model info|init` and `r1 tokenizer train`, `r1 tokenize`.
#include <cmath>
#include <filesystem>
#include <iostream>

#include "cli/cli_common.h"
#include "cli/json_lines.h"
#include "text/bpe_trainer.h"
#include "text/chat_template.h"
#include "policy/checkpoint.h"
#include "policy/model_config.h"
#include "text/tokenizer.h"

namespace fs = std::filesystem;

namespace r1::cli {
namespace {

std::string human(double n) {
  char buf[32];
  if (n >= 1e9) std::snprintf(buf, sizeof buf, "%.2fB", n / 1e9);
  else if (n >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
  else if (n >= 1e3) std::snprintf(buf, sizeof buf, "%.2fK", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}

void add_model_info(CLI::App& model, Context& ctx) {
  struct Args {
    std::string config;
    int64_t context = 4096;
  };
  auto a = std::make_shared<Args>();
  auto* c = model.add_subcommand("info", "Parameter counts, KV-cache bytes and FLOPs per token of a config.json (no weights allocated)");
  c->add_option("config", a->config, "config.json or a model folder")->required();
  c->add_option("--context", a->context, "attention span used for the FLOPs count")->check(CLI::PositiveNumber);
  c->callback([a, &ctx] {
    policy::ModelConfig cfg = policy::ModelConfig::load(a->config);
    int bytes = cfg.torch_dtype == "float32" ? 4 : 2;
    policy::ModelCounts n = policy::count_model(cfg, a->context, bytes);
    if (ctx.json) {
      Json j = {{"model_type", cfg.model_type},
                {"total_params", n.total_params},
                {"activated_params", n.activated_params},
                {"embedding_params", n.embedding_params},
                {"head_params", n.head_params},
                {"attention_params_per_layer", n.attention_params_per_layer},
                {"kv_cache_bytes_per_token", n.kv_cache_bytes_per_token},
                {"kv_cache_dtype", cfg.torch_dtype},
                {"flops_per_token", n.flops_per_token},
                {"matmul_flops_per_token", n.matmul_flops_per_token},
                {"attention_flops_per_token", n.attention_flops_per_token},
                {"context", n.context}};
      std::cout << j.dump(2) << "\n";
      return;
    }
    std::printf("model_type          %s%s\n", cfg.model_type.c_str(),
                cfg.mla() ? (cfg.n_routed_experts > 0 ? "  (MLA + DeepSeekMoE)" : "  (MLA)") : "  (GQA)");
    std::printf("layers              %lld, hidden %lld, heads %lld, vocab %lld\n", (long long)cfg.num_hidden_layers,
                (long long)cfg.hidden_size, (long long)cfg.num_attention_heads, (long long)cfg.vocab_size);
    if (cfg.n_routed_experts > 0)
      std::printf("experts             %lld routed (%lld per token) + %lld shared, in %lld of %lld layers\n",
                  (long long)cfg.n_routed_experts, (long long)cfg.num_experts_per_tok, (long long)cfg.n_shared_experts,
                  (long long)(cfg.num_hidden_layers - cfg.first_k_dense_replace), (long long)cfg.num_hidden_layers);
    std::printf("parameters          %s total (%.0f)\n", human(n.total_params).c_str(), n.total_params);
    std::printf("activated/token     %s (%.0f; %.1f%% of total)\n", human(n.activated_params).c_str(), n.activated_params,
                100.0 * n.activated_params / n.total_params);
    std::printf("  embedding         %s, head %s%s\n", human(n.embedding_params).c_str(), human(n.head_params).c_str(),
                cfg.tie_word_embeddings ? " (tied)" : "");
    std::printf("  attention/layer   %s\n", human(n.attention_params_per_layer).c_str());
    std::printf("kv cache/token      %.0f bytes (%s; %s)\n", n.kv_cache_bytes_per_token, cfg.torch_dtype.c_str(),
                cfg.mla() ? "latent + rope key per layer" : "K and V per layer");
    std::printf("flops/token         %s forward at context %lld (matmul %s, attention %s)\n", human(n.flops_per_token).c_str(),
                (long long)n.context, human(n.matmul_flops_per_token).c_str(), human(n.attention_flops_per_token).c_str());
    if (cfg.model_type == "deepseek_v3" && std::fabs(n.total_params / 671e9 - 1) < 0.01)
      std::printf("published           671B total, 37B activated (36.7B in DeepSeek's README_WEIGHTS.md; MTP excluded)\n");
  });
}

void add_model_init(CLI::App& model, Context& ctx) {
  struct Args {
    std::string config, out, dtype = "float32";
    uint64_t seed = 0;
  };
  auto a = std::make_shared<Args>();
  auto* c = model.add_subcommand("init", "Write a randomly initialised model as a Hugging Face folder");
  c->add_option("config", a->config, "config.json (or a folder holding one)")->required();
  c->add_option("--out", a->out, "output folder (must not hold a model already)")->required();
  c->add_option("--seed", a->seed, "initialisation seed");
  c->add_option("--dtype", a->dtype, "float32 | bfloat16")->check(CLI::IsMember({"float32", "bfloat16"}));
  c->callback([a, &ctx] {
    policy::ModelConfig cfg = policy::ModelConfig::load(a->config);
    if (fs::exists(fs::path(a->out) / "config.json") || fs::exists(fs::path(a->out) / "model.safetensors") ||
        fs::exists(fs::path(a->out) / "model.safetensors.index.json"))
      throw InputError(a->out + ": already holds a model; choose another --out (nothing was overwritten)");
    policy::CausalLM m(cfg);
    m->init_weights(a->seed);
    policy::save_pretrained(m, a->out, a->dtype == "bfloat16" ? torch::kBFloat16 : torch::kFloat32);
    if (!ctx.quiet)
      std::cerr << "wrote " << a->out << " (" << human(policy::count_model(cfg).total_params) << " parameters, seed " << a->seed << ")\n";
  });
}

void add_tokenizer_train(CLI::App& app, Context& ctx) {
  struct Args {
    std::vector<std::string> corpus, special{"<|endoftext|>"};
    std::string out, field = "text";
    int64_t vocab = 1024, min_frequency = 2;
  };
  auto a = std::make_shared<Args>();
  auto* tok = app.add_subcommand("tokenizer", "Train tokenizers");
  tok->require_subcommand(1);
  auto* c = tok->add_subcommand("train", "Train a byte-level BPE tokenizer; writes tokenizer.json + tokenizer_config.json");
  c->add_option("--corpus", a->corpus, "text files (one text per line) or .jsonl files (the --field of each line)")
      ->required()->check(CLI::ExistingFile);
  c->add_option("--vocab-size", a->vocab, "vocabulary size including the 256 bytes and special tokens")->check(CLI::Range(257, 1 << 22));
  c->add_option("--out", a->out, "output folder")->required();
  c->add_option("--field", a->field, "field of .jsonl lines holding the text");
  c->add_option("--special", a->special, "special tokens (the first is EOS and PAD)");
  c->add_option("--min-frequency", a->min_frequency, "least count of a pair to merge")->check(CLI::PositiveNumber);
  c->callback([a, &ctx] {
    std::vector<std::string> texts;
    for (const auto& f : a->corpus) {
      if (f.size() > 6 && f.substr(f.size() - 6) == ".jsonl") {
        for_each_json_line(f, [&](int64_t line, const Json& j) {
          if (!j.contains(a->field) || !j[a->field].is_string())
            throw InputError(f + ":" + std::to_string(line) + ": no string field '" + a->field + "'");
          texts.push_back(j[a->field].get<std::string>());
        });
      } else {
        std::ifstream in(f);
        for (std::string line; std::getline(in, line);) texts.push_back(line + "\n");
      }
    }
    text::BpeTrainOptions o;
    o.vocab_size = a->vocab;
    o.min_frequency = a->min_frequency;
    o.special_tokens = a->special;
    auto r = text::train_bpe(texts, o, a->out);
    if (!ctx.quiet)
      std::cerr << "trained " << r.vocab_size << " tokens (" << r.merges << " merges over " << r.words
                << " distinct words) -> " << a->out << "\n";
  });
}

void add_tokenize(CLI::App& app, Context& ctx) {
  struct Args {
    std::string tokenizer, input, output;
    bool no_special = false, chat = false;
  };
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("tokenize", "Encode JSON Lines: {\"text\"} -> {\"ids\"}, or with --chat {\"messages\"} -> {\"text\", \"ids\"}");
  c->add_option("--tokenizer", a->tokenizer, "folder with tokenizer.json (and tokenizer_config.json)")->required();
  c->add_option("--input", a->input, "JSON Lines input")->required()->check(CLI::ExistingFile);
  c->add_option("--output,-o", a->output, "output file (default: standard output)");
  c->add_flag("--no-special", a->no_special, "do not add BOS/EOS (add_special_tokens=False)");
  c->add_flag("--chat", a->chat, "render {\"messages\", \"add_generation_prompt\"} with the chat template first");
  c->callback([a, &ctx] {
    text::Tokenizer tok = text::Tokenizer::load(a->tokenizer);
    std::unique_ptr<text::ChatTemplate> tmpl;
    if (a->chat) {
      if (tok.chat_template().empty()) throw InputError(a->tokenizer + ": tokenizer_config.json has no chat_template");
      tmpl = std::make_unique<text::ChatTemplate>(text::ChatTemplate::compile(tok.chat_template()));
    }
    LineWriter out(a->output);
    for_each_json_line(a->input, [&](int64_t line, const Json& j) {
      std::string where = a->input + ":" + std::to_string(line);
      if (a->chat) {
        if (!j.contains("messages") || !j["messages"].is_array()) throw InputError(where + ": no \"messages\" array");
        text::Value messages = text::parse_json(j["messages"].dump(), where);
        text::Value tools = j.contains("tools") ? text::parse_json(j["tools"].dump(), where) : text::Value();
        std::string text = text::apply_chat_template(tok, *tmpl, messages, j.value("add_generation_prompt", false), tools);
        out.write(Json{{"text", text}, {"ids", tok.encode(text, false)}});
      } else {
        if (!j.contains("text") || !j["text"].is_string()) throw InputError(where + ": no string field \"text\"");
        out.write(Json{{"ids", tok.encode(j["text"].get<std::string>(), !a->no_special)}});
      }
    });
    out.close();
  });
}

}  // namespace

void add_model_commands(CLI::App& app, Context& ctx) {
  auto* model = app.add_subcommand("model", "Inspect and create models");
  model->require_subcommand(1);
  add_model_info(*model, ctx);
  add_model_init(*model, ctx);
  add_tokenizer_train(app, ctx);
  add_tokenize(app, ctx);
}

}  // namespace r1::cli
