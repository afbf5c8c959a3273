// The learner's side of remote rollout (rollout.backend = "remote"): the rollout service started
// from the recipe, and what both sides agree on in the handshake. A worker that has no model yet
// is sent the policy's config.json and tokenizer files; the hashes of those texts are what every
// worker presents afterwards, so a learner restarted with another model refuses it by name.
//
//   auto service = start_rollout_service(recipe, policy, log);   // "rollout service listening on ..."
//   rollout::RolloutBackend& rollouts = *service;
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "rl/policy_setup.h"
#include "rl/recipe.h"
#include "rollout/remote_rollout.h"

namespace r1::rl {

// The texts a worker builds its model and tokenizer from (config.json as the model holds it).
rollout::wire::ModelFiles policy_files(const PolicyBundle& policy);
// {model hash, tokenizer hash}: SHA-256 of the config text (with the weights' dtype and whether
// routing is recorded), and of the tokenizer's two files.
std::pair<std::string, std::string> file_hashes(const rollout::wire::ModelFiles& files);

// The shared token: the first line of `token_file` (named by `key` in errors) when set, else
// $R1_ROLLOUT_TOKEN, else "". Throws rollout::ServiceError when the file is unreadable or empty.
std::string rollout_token(const std::string& token_file, const std::string& key);

// Listens on rollout.listen and serves the policy (as weight version `version`) to workers; logs
// the address it took. While `stop` is set, waiting for completions throws rollout::Interrupted.
std::unique_ptr<rollout::RemoteRollout> start_rollout_service(const Recipe& recipe, PolicyBundle& policy, int64_t version,
                                                              const std::atomic<bool>* stop, const std::function<void(const std::string&)>& log);

}  // namespace r1::rl
