// The default scoring model shipped with this build (models/default-model.pb,
// a vigil.v1.Model produced by vigil-evolve), as bytes; empty if none.
#pragma once

#include <string_view>

namespace vigil {

[[nodiscard]] std::string_view shipped_model_bytes();

}  // namespace vigil
