// Typed events onto the wire (vigil.v1.Event): the same fields as the JSON
// schema, plus the score, the indicators and the alert id when one was raised.
#pragma once

#include <span>
#include <string_view>

#include "vigil/agent/indicators.h"
#include "vigil/event.h"
#include "vigil/features.h"
#include "vigil/v1/event.pb.h"

namespace vigil::agent {

// The sparse feature vector (schema, non-zero slots and values).
void set_features(const FeatureVector& features, v1::Event& out);
void to_proto(const Event& event, std::uint32_t score, std::span<const Indicator* const> hits,
              std::string_view alert_id, v1::Event& out);

}  // namespace vigil::agent
