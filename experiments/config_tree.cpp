// Merging recipe trees: an included file under the including one, `--set` over both.
#include "experiments/config_tree.h"

namespace r1::experiments {

void merge_into(Value& base, const Value& overlay) {
  if (!base.is_object() || !overlay.is_object()) {
    base = overlay;
    return;
  }
  for (const auto& [key, value] : overlay.as_object()) {
    Value* existing = base.find(key);
    if (existing && existing->is_object() && value.is_object())
      merge_into(*existing, value);
    else
      base.set(key, value);
  }
}

}  // namespace r1::experiments
