// Deterministic shuffles, holdout splits, and the epoch cursor.
#include <algorithm>
#include <numeric>
#include <random>

#include "datasets/task.h"

namespace r1::datasets {

void shuffle_tasks(std::vector<Task>& tasks, uint64_t seed) {
  // Fisher-Yates with our own generator: std::shuffle's use of the engine is unspecified, and
  // the order must be the same on every platform.
  std::mt19937_64 rng(seed ^ 0x5DEECE66Dull);
  for (size_t i = tasks.size(); i > 1; --i) std::swap(tasks[i - 1], tasks[rng() % i]);
}

Split split_tasks(std::vector<Task> tasks, const DataConfig& c, uint64_t seed) {
  if (c.shuffle) shuffle_tasks(tasks, seed);
  Split s;
  size_t hold = std::min<size_t>(static_cast<size_t>(c.holdout), tasks.size());
  s.heldout.assign(std::make_move_iterator(tasks.begin()), std::make_move_iterator(tasks.begin() + static_cast<long>(hold)));
  s.train.assign(std::make_move_iterator(tasks.begin() + static_cast<long>(hold)), std::make_move_iterator(tasks.end()));
  if (c.limit > 0 && static_cast<int64_t>(s.train.size()) > c.limit) s.train.resize(static_cast<size_t>(c.limit));
  if (s.train.empty() && !tasks.empty()) throw DataError("data: no training tasks left after holdout/limit");
  return s;
}

TaskCursor::TaskCursor(const std::vector<Task>* tasks, uint64_t seed, bool shuffle) : tasks_(tasks), seed_(seed), shuffle_(shuffle) {
  if (tasks_->empty()) throw DataError("data: no tasks to train on");
}

void TaskCursor::reshuffle(int64_t epoch) {
  order_.resize(tasks_->size());
  std::iota(order_.begin(), order_.end(), size_t{0});
  if (shuffle_) {
    std::mt19937_64 rng(seed_ * 1000003ull + static_cast<uint64_t>(epoch));
    for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng() % i]);
  }
  epoch_ = epoch;
}

const Task& TaskCursor::next() {
  const int64_t n = static_cast<int64_t>(tasks_->size());
  int64_t epoch = position_ / n;
  if (epoch != epoch_) reshuffle(epoch);
  const Task& t = (*tasks_)[order_[static_cast<size_t>(position_ % n)]];
  ++position_;
  return t;
}

void TaskCursor::seek(int64_t position) {
  position_ = position;
  epoch_ = -1;
}

}  // namespace r1::datasets
