// `r1 generate`: sample completions from a model folder. One prompt on a terminal streams its
// tokens; a JSON Lines input writes one line per completion with a progress bar on stderr.
#include <unistd.h>

#include <iostream>

#include "cli/cli_common.h"
#include "cli/json_lines.h"
#include "policy/checkpoint.h"
#include "policy/device.h"
#include "text/prompt_format.h"
#include "text/unicode_text.h"
#include "rollout/engine.h"

namespace r1::cli {
namespace {

struct GenerateArgs {
  std::string model, tokenizer, prompt, input, output, template_name = "none", device = "auto";
  int64_t n = 1, max_new_tokens = 256, top_k = 0, batch = 64;
  double temperature = 1.0, top_p = 1.0, min_p = 0.0;
  uint64_t seed = 0;
  std::vector<std::string> stop;
  bool no_stop_text = false;
};

// Prints bytes as they come, holding back an incomplete UTF-8 sequence.
struct Streamer {
  std::string pending;
  void add(const std::string& bytes) {
    pending += bytes;
    size_t cut = pending.size();
    for (size_t back = 1; back <= 3 && back <= pending.size(); ++back) {
      unsigned char c = pending[pending.size() - back];
      if ((c & 0xC0) == 0x80) continue;
      size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
      if (need > back) cut = pending.size() - back;
      break;
    }
    std::cout << pending.substr(0, cut) << std::flush;
    pending.erase(0, cut);
  }
};

}  // namespace

void add_generate_command(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<GenerateArgs>();
  auto* c = app.add_subcommand("generate", "Sample completions from a model (streams one prompt; batch mode writes JSON Lines)");
  c->add_option("--model", a->model, "model folder (config.json + safetensors)")->required();
  c->add_option("--tokenizer", a->tokenizer, "tokenizer folder (default: the model folder)");
  auto* p = c->add_option("--prompt", a->prompt, "one prompt");
  auto* in = c->add_option("--input", a->input, "JSON Lines of {\"prompt\": ...} or {\"messages\": [...]}")->check(CLI::ExistingFile);
  p->excludes(in);
  c->add_option("--output,-o", a->output, "JSON Lines output (default: standard output)");
  c->add_option("-n", a->n, "samples per prompt")->check(CLI::PositiveNumber);
  c->add_option("--temperature", a->temperature, "0 = greedy")->check(CLI::Range(0.0, 100.0));
  c->add_option("--top-p", a->top_p, "nucleus mass")->check(CLI::Range(0.0, 1.0));
  c->add_option("--top-k", a->top_k, "0 = off")->check(CLI::NonNegativeNumber);
  c->add_option("--min-p", a->min_p, "0 = off")->check(CLI::Range(0.0, 1.0));
  c->add_option("--max-new-tokens", a->max_new_tokens, "completion length cap")->check(CLI::PositiveNumber);
  c->add_option("--template", a->template_name, "r1-zero | chat (with R1's system instruction) | chat-plain | none | a string with {question}");
  c->add_option("--stop", a->stop, "stop string (repeatable)");
  c->add_flag("--exclude-stop", a->no_stop_text, "cut the matched stop string from the text");
  c->add_option("--seed", a->seed, "sampling seed");
  c->add_option("--batch", a->batch, "sequences decoded together")->check(CLI::PositiveNumber);
  c->add_option("--device", a->device, "auto | cpu | cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  c->callback([a, &ctx] {
    if (a->prompt.empty() && a->input.empty()) throw InputError("generate: pass --prompt TEXT or --input FILE.jsonl");
    text::Tokenizer tok = text::Tokenizer::load(a->tokenizer.empty() ? a->model : a->tokenizer);
    text::PromptFormat fmt(a->template_name, tok);
    auto device = policy::pick_device(a->device);
    policy::CausalLM model = policy::load_pretrained(a->model, {device, torch::kFloat32});
    model->eval();
    std::vector<int32_t> eos;
    if (tok.eos_id() >= 0) eos.push_back(tok.eos_id());
    if (model->config().eos_token_id >= 0 && model->config().eos_token_id != tok.eos_id()) eos.push_back(static_cast<int32_t>(model->config().eos_token_id));
    rollout::Engine engine(model, {.max_batch_seqs = a->batch}, eos, [&tok](int32_t id) -> const std::string& {
      static const std::string none;
      return tok.is_special(id) ? none : tok.token_bytes(id);
    });
    rollout::SamplingParams sp{.temperature = a->temperature, .top_p = a->top_p, .top_k = a->top_k, .min_p = a->min_p,
                               .max_new_tokens = a->max_new_tokens, .stop_strings = a->stop,
                               .include_stop = !a->no_stop_text, .seed = a->seed};
    std::vector<rollout::Request> reqs;
    std::vector<Json> ids;
    if (!a->prompt.empty()) {
      reqs.push_back({fmt.encode(a->prompt), a->n, sp});
      ids.push_back(0);
    } else {
      for_each_json_line(a->input, [&](int64_t line, const Json& j) {
        std::string where = a->input + ":" + std::to_string(line);
        std::string text;
        if (j.contains("prompt") && j["prompt"].is_string()) {
          text = fmt.text(j["prompt"].get<std::string>());
        } else if (j.contains("messages") && j["messages"].is_array()) {
          text = fmt.text_of_messages(text::parse_json(j["messages"].dump(), where));
        } else {
          throw InputError(where + ": needs \"prompt\" (string) or \"messages\" (array)");
        }
        bool chat = a->template_name == "chat" || a->template_name == "chat-plain";
        reqs.push_back({tok.encode(text, !chat), a->n, sp});
        reqs.back().params.seed = a->seed + static_cast<uint64_t>(reqs.size() - 1);
        ids.push_back(j.contains("id") ? j["id"] : Json(line));
      });
    }
    bool stream = !a->prompt.empty() && a->n == 1 && a->output.empty() && stdout_is_terminal() && !ctx.json;
    Streamer streamer;
    int64_t total = 0, done_tokens = 0;
    for (const auto& r : reqs) total += r.n;
    rollout::Engine::OnToken on_token;
    if (stream) {
      on_token = [&](int64_t, int64_t, int32_t t) {
        if (!tok.is_special(t)) streamer.add(tok.token_bytes(t));
      };
    } else if (!ctx.quiet && isatty(STDERR_FILENO)) {
      on_token = [&](int64_t, int64_t, int32_t) {
        if (++done_tokens % 64 == 0)
          std::cerr << "\rgenerating: " << done_tokens << " tokens, " << total << " completions" << std::flush;
      };
    }
    auto out = engine.generate(reqs, on_token);
    if (stream) {
      streamer.add("");
      std::cout << text::utf8_lossy(streamer.pending) << "\n";
      return;
    }
    if (on_token && !stream) std::cerr << "\r\033[K";
    LineWriter w(a->output);
    for (const auto& c : out) {
      w.write(Json{{"id", ids[c.request]}, {"sample", c.sample}, {"text", c.text}, {"ids", c.tokens},
                   {"logprobs", c.sampling_logprobs}, {"policy_logprobs", c.policy_logprobs},
                   {"finish_reason", rollout::to_string(c.finish)}, {"prompt_tokens", c.prompt_tokens},
                   {"completion_tokens", c.completion_tokens}});
    }
    w.close();
    if (!ctx.quiet)
      std::cerr << "generated " << out.size() << " completions, " << engine.stats().decode_tokens + static_cast<int64_t>(out.size())
                << " tokens (" << engine.stats().decode_s + engine.stats().prefill_s << " s)\n";
  });
}

}  // namespace r1::cli
