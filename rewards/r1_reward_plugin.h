/* r1forge reward plugin ABI, version 1.
 *
 * A shared library exporting these C functions can be used as a reward:
 *
 *   [[rewards]]
 *   plugin = "build/rewards/examples/libprime_reward.so"
 *   weight = 0.5
 *   isolate = false        # true: run in a helper process, so a crash cannot take the run down
 *   min = 2                # every other key is passed to r1_reward_create as JSON
 *
 * Threading: r1 calls r1_reward_score (or r1_reward_score_batch) from one thread at a time per
 * state object.
 * Memory: strings in r1_reward_input belong to r1 and live for the duration of the call.
 * Errors: return non-zero and write a message into `error`; the sample gets the entry's
 * `on_error` value, the run goes on.
 */
#ifndef R1_REWARD_PLUGIN_H
#define R1_REWARD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define R1_REWARD_ABI_VERSION 1u

typedef struct r1_reward_input {
  const char* task_id;
  const char* prompt;         /* the question */
  const char* answer;         /* reference answer ("" when none) */
  const char* tests_json;     /* code tests as JSON ("" when none) */
  const char* metadata_json;  /* task metadata as a JSON object */
  const char* completion;     /* the model's completion text */
  int64_t completion_tokens;
  const char* finish_reason;  /* "eos" | "stop" | "length" */
} r1_reward_input;

/* Must return R1_REWARD_ABI_VERSION. */
uint32_t r1_reward_abi_version(void);

/* Builds the plugin's state from the entry's options (a JSON object). NULL on failure, with a
 * message in `error`. */
void* r1_reward_create(const char* options_json, char* error, size_t error_size);

/* Scores one completion: 0 on success with *reward set (finite), and optionally a JSON object in
 * `info` (e.g. {"extracted": "7"}); non-zero on failure with a message in `info`. */
int r1_reward_score(void* state, const r1_reward_input* input, double* reward, char* info, size_t info_size);

/* Optional: scores `n` completions of one step in a single call (a plugin that batches work on
 * its side — a model-based judge, say — exports it; r1 then calls it instead of r1_reward_score
 * for in-process plugins). For each i: status[i] = 0 with rewards[i] set (finite), or non-zero
 * for a failed sample; infos + i * info_size holds that sample's info JSON (or error message).
 * A non-zero return fails the whole batch. */
int r1_reward_score_batch(void* state, const r1_reward_input* inputs, size_t n, double* rewards, int* status, char* infos,
                          size_t info_size);

void r1_reward_destroy(void* state);

#ifdef __cplusplus
}
#endif

#endif /* R1_REWARD_PLUGIN_H */
