// Renders events as JSON lines (the stable schema) or as short human lines.
#pragma once

#include <cstddef>
#include <string>

#include "vigil/event.h"

namespace vigil {

// Appends one JSON object (no trailing newline) to `out`.
void append_json(const Event& event, std::string& out);

// Appends one human-readable line (no trailing newline), e.g.
// `exec pid=6864 ppid=6800 uid=1000 comm=bash exe=/usr/bin/nc args="nc -l 4444"`.
void append_text(const Event& event, std::string& out);

// JSON string escaping (RFC 8259): quotes, backslash, control characters; bytes
// that are not valid UTF-8 are replaced with U+FFFD so every line parses.
void append_json_string(std::string_view s, std::string& out);
// Length of the valid UTF-8 sequence at s[i] (shortest form, no surrogates, at
// most U+10FFFF: what JSON and protobuf accept), or 0 if none starts there.
[[nodiscard]] std::size_t utf8_sequence_length(std::string_view s, std::size_t i);

}  // namespace vigil
