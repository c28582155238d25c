#include "modifiers.h"

#include <re2/re2.h>

#include <array>
#include <optional>

namespace vigil::agent::sigma::detail {
namespace {

enum class Mod {
  kContains,
  kStartswith,
  kEndswith,
  kAll,
  kNeq,
  kCased,
  kExists,
  kRe,
  kReIgnoreCase,
  kReMultiline,
  kReDotAll,
  kBase64,
  kBase64Offset,
  kUtf16le,
  kUtf16be,
  kUtf16,
  kWindash,
  kCidr,
  kLt,
  kLte,
  kGt,
  kGte,
  kFieldref,
};

struct ModName {
  std::string_view name;
  Mod mod;
};

// pySigma's modifier_mapping, plus `utf16le` (the specification's name for
// `wide`).
constexpr ModName kMods[] = {
    {"contains", Mod::kContains},
    {"startswith", Mod::kStartswith},
    {"endswith", Mod::kEndswith},
    {"all", Mod::kAll},
    {"neq", Mod::kNeq},
    {"cased", Mod::kCased},
    {"exists", Mod::kExists},
    {"re", Mod::kRe},
    {"i", Mod::kReIgnoreCase},
    {"ignorecase", Mod::kReIgnoreCase},
    {"m", Mod::kReMultiline},
    {"multiline", Mod::kReMultiline},
    {"s", Mod::kReDotAll},
    {"dotall", Mod::kReDotAll},
    {"base64", Mod::kBase64},
    {"base64offset", Mod::kBase64Offset},
    {"wide", Mod::kUtf16le},
    {"utf16le", Mod::kUtf16le},
    {"utf16be", Mod::kUtf16be},
    {"utf16", Mod::kUtf16},
    {"windash", Mod::kWindash},
    {"cidr", Mod::kCidr},
    {"lt", Mod::kLt},
    {"lte", Mod::kLte},
    {"gt", Mod::kGt},
    {"gte", Mod::kGte},
    {"fieldref", Mod::kFieldref},
};

struct Unsupported {
  std::string_view name;
  std::string_view why;
};
constexpr Unsupported kUnsupported[] = {
    {"expand", "placeholders need a processing pipeline to expand them"},
    {"minute", "vigil's rule fields carry no timestamp"},
    {"hour", "vigil's rule fields carry no timestamp"},
    {"day", "vigil's rule fields carry no timestamp"},
    {"week", "vigil's rule fields carry no timestamp"},
    {"month", "vigil's rule fields carry no timestamp"},
    {"year", "vigil's rule fields carry no timestamp"},
};

std::unexpected<Error> invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

Result<Mod> lookup(std::string_view name) {
  for (const auto& m : kMods) {
    if (m.name == name) {
      return m.mod;
    }
  }
  for (const auto& u : kUnsupported) {
    if (u.name == name) {
      return make_error(ErrorCode::kUnsupported, "modifier '" + std::string(name) +
                                                     "' is not supported: " + std::string(u.why));
    }
  }
  return invalid("unknown modifier '" + std::string(name) + "'");
}

bool is_word_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u == '_' ||
         u >= 0x80;
}

// `windash`: every `-` or `/` that starts a word (pySigma: `\B[-/]\b`) may
// be written as any of these; all combinations are generated.
constexpr std::array<std::string_view, 5> kDashes = {"-", "/", "\u2013", "\u2014", "\u2015"};
constexpr std::size_t kMaxWindashValues = 625;  // four dashes in one value

Result<std::vector<Pattern>> windash(const Pattern& p) {
  std::vector<std::size_t> at;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p.is_wild(i) || (p.chars[i] != '-' && p.chars[i] != '/')) {
      continue;
    }
    const bool word_before = i > 0 && !p.is_wild(i - 1) && is_word_byte(p.chars[i - 1]);
    const bool word_after = i + 1 < p.size() && !p.is_wild(i + 1) && is_word_byte(p.chars[i + 1]);
    if (!word_before && word_after) {
      at.push_back(i);
    }
  }
  std::size_t count = 1;
  for (std::size_t k = 0; k < at.size(); ++k) {
    count *= kDashes.size();
    if (count > kMaxWindashValues) {
      return invalid("windash: too many dashes to expand in '" + p.chars + "'");
    }
  }
  std::vector<Pattern> out;
  out.reserve(count);
  for (std::size_t n = 0; n < count; ++n) {
    Pattern q;
    std::size_t pick = n, next = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
      if (next < at.size() && at[next] == i) {
        q.append(Pattern::literal(kDashes[pick % kDashes.size()]));
        pick /= kDashes.size();
        ++next;
      } else {
        q.push(p.chars[i], static_cast<Pattern::Kind>(p.kinds[i]));
      }
    }
    out.push_back(std::move(q));
  }
  return out;
}

// UTF-8 -> UTF-16 code units; nullopt on invalid UTF-8.
std::optional<std::u16string> utf16(std::string_view s) {
  std::u16string out;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::uint32_t cp = 0;
    std::size_t len = 0;
    if (c < 0x80) {
      cp = c;
      len = 1;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F;
      len = 2;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F;
      len = 3;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07;
      len = 4;
    } else {
      return std::nullopt;
    }
    if (i + len > s.size()) {
      return std::nullopt;
    }
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) {
        return std::nullopt;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
    i += len;
  }
  return out;
}

// The literal runs of `p` re-encoded as UTF-16; wildcards stay wildcards.
Result<Pattern> encode_utf16(const Pattern& p, bool big_endian, bool bom) {
  Pattern out;
  if (bom) {
    out.push('\xFF', Pattern::kLiteral);
    out.push('\xFE', Pattern::kLiteral);
  }
  std::size_t i = 0;
  while (i < p.size()) {
    if (p.is_wild(i)) {
      out.push(p.chars[i], static_cast<Pattern::Kind>(p.kinds[i]));
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < p.size() && !p.is_wild(j)) {
      ++j;
    }
    const auto units = utf16(std::string_view(p.chars).substr(i, j - i));
    if (!units) {
      return invalid("utf16: '" + p.chars + "' is not valid UTF-8");
    }
    for (const char16_t u : *units) {
      const auto lo = static_cast<char>(u & 0xFF);
      const auto hi = static_cast<char>(u >> 8);
      out.push(big_endian ? hi : lo, Pattern::kLiteral);
      out.push(big_endian ? lo : hi, Pattern::kLiteral);
    }
    i = j;
  }
  return out;
}

// The value test for one pattern after all string modifiers.
Matcher classify(const Pattern& p, bool cased) {
  Matcher m;
  m.cased = cased;
  auto lit = [cased](std::string_view s) { return cased ? std::string(s) : to_lower_ascii(s); };
  if (!p.has_wildcards()) {
    m.kind = MatchKind::kExact;
    m.lit = lit(p.chars);
    return m;
  }
  std::size_t b = 0, e = p.size();
  while (b < e && p.kinds[b] == Pattern::kAnyRun) {
    ++b;
  }
  while (e > b && p.kinds[e - 1] == Pattern::kAnyRun) {
    --e;
  }
  bool inner_wild = false;
  for (std::size_t i = b; i < e; ++i) {
    inner_wild = inner_wild || p.is_wild(i);
  }
  if (!inner_wild) {
    const bool lead = b > 0, trail = e < p.size();
    if (b == e) {
      m.kind = MatchKind::kAnyValue;
    } else {
      m.kind =
          lead && trail ? MatchKind::kContains : (lead ? MatchKind::kSuffix : MatchKind::kPrefix);
      m.lit = lit(std::string_view(p.chars).substr(b, e - b));
    }
    return m;
  }
  m.kind = MatchKind::kGlob;
  m.glob = p;
  if (!cased) {
    m.glob.chars = to_lower_ascii(p.chars);
  }
  return m;
}

std::string describe(const RawValue& v) {
  return v.type == RawValue::Type::kNull ? std::string("null") : "'" + v.text + "'";
}

Result<void> compile_re(std::span<const Mod> mods, const RawValue& v, ItemSpec& item) {
  std::string flags;
  bool prefix = false, suffix = false;
  for (const Mod m : mods.subspan(1)) {
    switch (m) {
      case Mod::kReIgnoreCase:
        flags += 'i';
        break;
      case Mod::kReMultiline:
        flags += 'm';
        break;
      case Mod::kReDotAll:
        flags += 's';
        break;
      case Mod::kStartswith:
        prefix = true;
        break;
      case Mod::kEndswith:
        suffix = true;
        break;
      case Mod::kContains:
      case Mod::kCased:  // a regex is case-sensitive already
        break;
      default:
        return invalid(
            "modifiers after 're' may only be i, m, s, contains, startswith, "
            "endswith or cased");
    }
  }
  // Sigma's `re` is a search, as SigmaHQ's rules assume (`[^/]{100,}$`);
  // startswith/endswith anchor it.
  std::string pattern = flags.empty() ? "" : "(?" + flags + ")";
  pattern += (prefix ? "^(?:" : "(?:") + v.text + (suffix ? ")$" : ")");
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_shared<const re2::RE2>(pattern, options);
  if (!re->ok()) {
    return invalid("invalid regular expression '" + v.text + "': " + re->error());
  }
  Matcher m;
  m.kind = MatchKind::kRegex;
  m.cased = true;
  m.re = std::move(re);
  item.matchers.push_back(std::move(m));
  return {};
}

Result<void> compile_fieldref(std::span<const Mod> mods, const RawValue& v, ItemSpec& item) {
  Matcher m;
  m.kind = MatchKind::kFieldRef;
  for (const Mod mod : mods.subspan(1)) {
    if (mod == Mod::kContains) {
      m.ref_prefix = m.ref_suffix = true;
    } else if (mod == Mod::kStartswith) {
      m.ref_prefix = true;
    } else if (mod == Mod::kEndswith) {
      m.ref_suffix = true;
    } else if (mod == Mod::kCased) {
      m.cased = true;
    } else {
      return invalid(
          "modifiers after 'fieldref' may only be contains, startswith, endswith "
          "or cased");
    }
  }
  const auto f = field_from_string(v.text);
  if (!f) {
    return invalid("fieldref: unknown field '" + v.text + "'");
  }
  m.ref = *f;
  item.matchers.push_back(std::move(m));
  return {};
}

Result<void> compile_strings(std::span<const Mod> mods, const RawValue& v, ItemSpec& item) {
  std::vector<Pattern> values;
  values.push_back(v.type == RawValue::Type::kString ? Pattern::parse(v.text)
                                                     : Pattern::literal(v.text));
  bool cased = false;
  std::string_view pending_utf16;  // set by a UTF-16 modifier until a base64 one follows
  for (const Mod m : mods) {
    switch (m) {
      case Mod::kContains:
        for (auto& p : values) {
          if (!p.starts_with_run()) {
            Pattern q;
            q.push('*', Pattern::kAnyRun);
            q.append(p);
            p = std::move(q);
          }
          if (!p.ends_with_run()) {
            p.push('*', Pattern::kAnyRun);
          }
        }
        break;
      case Mod::kStartswith:
        for (auto& p : values) {
          if (!p.ends_with_run()) {
            p.push('*', Pattern::kAnyRun);
          }
        }
        break;
      case Mod::kEndswith:
        for (auto& p : values) {
          if (!p.starts_with_run()) {
            Pattern q;
            q.push('*', Pattern::kAnyRun);
            q.append(p);
            p = std::move(q);
          }
        }
        break;
      case Mod::kCased:
        cased = true;
        break;
      case Mod::kWindash: {
        std::vector<Pattern> expanded;
        for (const auto& p : values) {
          auto more = windash(p);
          if (!more) {
            return std::unexpected(more.error());
          }
          for (auto& q : *more) {
            expanded.push_back(std::move(q));
          }
        }
        values = std::move(expanded);
        break;
      }
      case Mod::kBase64:
      case Mod::kBase64Offset: {
        std::vector<Pattern> encoded;
        for (const auto& p : values) {
          if (p.has_wildcards()) {
            return invalid("base64 of a value with wildcards ('" + v.text +
                           "'): put contains after base64offset");
          }
          if (m == Mod::kBase64) {
            encoded.push_back(Pattern::literal(base64_encode(p.chars)));
          } else {
            for (const auto& s : base64_offsets(p.chars)) {
              encoded.push_back(Pattern::literal(s));
            }
          }
        }
        values = std::move(encoded);
        pending_utf16 = {};
        break;
      }
      case Mod::kUtf16le:
      case Mod::kUtf16be:
      case Mod::kUtf16:
        for (auto& p : values) {
          auto q = encode_utf16(p, m == Mod::kUtf16be, m == Mod::kUtf16);
          if (!q) {
            return std::unexpected(q.error());
          }
          p = std::move(*q);
        }
        pending_utf16 = "utf16";
        break;
      default:
        return invalid("modifier combination not supported for " + describe(v));
    }
  }
  if (!pending_utf16.empty()) {
    return make_error(ErrorCode::kUnsupported,
                      "UTF-16 modifiers (wide, utf16le, utf16be, utf16) without base64 after them "
                      "are not supported: vigil's fields are UTF-8, a UTF-16 value never matches");
  }
  for (const auto& p : values) {
    item.matchers.push_back(classify(p, cased));
  }
  return {};
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t n = (static_cast<unsigned char>(bytes[i]) << 16) |
                            (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                            static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) {
      n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    }
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// The value shifted by 0, 1 and 2 bytes inside a longer base64 text: the
// characters that depend on the unknown neighbours are cut off (pySigma's
// start offsets 0, 2, 3 and end cuts none, 3, 2 by total length mod 3).
std::vector<std::string> base64_offsets(std::string_view bytes) {
  static constexpr std::array<std::size_t, 3> kStart = {0, 2, 3};
  static constexpr std::array<std::size_t, 3> kEndCut = {0, 3, 2};
  std::vector<std::string> out;
  for (std::size_t shift = 0; shift < 3; ++shift) {
    std::string padded(shift, ' ');
    padded += bytes;
    const std::string enc = base64_encode(padded);
    const std::size_t cut = kEndCut[(bytes.size() + shift) % 3];
    const std::size_t begin = kStart[shift];
    if (enc.size() < begin + cut) {
      out.emplace_back();
      continue;
    }
    out.push_back(enc.substr(begin, enc.size() - cut - begin));
  }
  return out;
}

Result<ItemSpec> compile_item(std::span<const std::string> modifiers,
                              std::span<const RawValue> values, bool has_field) {
  ItemSpec item;
  std::vector<Mod> mods;  // value modifiers, in order
  for (const auto& name : modifiers) {
    auto m = lookup(name);
    if (!m) {
      return std::unexpected(m.error());
    }
    if (*m == Mod::kAll) {
      item.all = true;
    } else if (*m == Mod::kNeq) {
      item.negate = true;
    } else {
      mods.push_back(*m);
    }
  }
  if (values.empty()) {
    return invalid("no values");
  }
  const Mod first = mods.empty() ? Mod::kAll : mods.front();
  const auto only = [&](std::string_view name) -> Result<void> {
    if (mods.size() > 1) {
      return invalid("modifier '" + std::string(name) + "' takes no other value modifier");
    }
    return {};
  };
  for (const Mod m : mods) {
    if ((m == Mod::kReIgnoreCase || m == Mod::kReMultiline || m == Mod::kReDotAll) &&
        first != Mod::kRe) {
      return invalid("regular expression flags (i, m, s) need 're' first");
    }
    if ((m == Mod::kRe || m == Mod::kFieldref) && m != first) {
      return invalid(std::string(m == Mod::kRe ? "'re'" : "'fieldref'") +
                     " must be the first value modifier");
    }
  }

  for (const auto& v : values) {
    if (v.type == RawValue::Type::kNull) {
      if (!mods.empty()) {
        return invalid("a null value takes no value modifier");
      }
      Matcher m;
      m.kind = MatchKind::kNull;
      item.matchers.push_back(std::move(m));
      continue;
    }
    Result<void> done;
    switch (first) {
      case Mod::kExists: {
        if (auto r = only("exists"); !r) {
          return std::unexpected(r.error());
        }
        if (!has_field) {
          return invalid("'exists' needs a field");
        }
        if (v.type == RawValue::Type::kNumber || (v.text != "true" && v.text != "false")) {
          return invalid("'exists' takes true or false, not " + describe(v));
        }
        Matcher m;
        m.kind = MatchKind::kExists;
        m.flag = v.text == "true";
        item.matchers.push_back(std::move(m));
        break;
      }
      case Mod::kCidr: {
        if (auto r = only("cidr"); !r) {
          return std::unexpected(r.error());
        }
        const auto net = parse_cidr(v.text);
        if (!net) {
          return invalid("cidr: invalid network " + describe(v));
        }
        Matcher m;
        m.kind = MatchKind::kCidr;
        m.cidr = *net;
        item.matchers.push_back(std::move(m));
        break;
      }
      case Mod::kLt:
      case Mod::kLte:
      case Mod::kGt:
      case Mod::kGte: {
        if (auto r = only("lt/lte/gt/gte"); !r) {
          return std::unexpected(r.error());
        }
        Matcher m;
        m.kind = MatchKind::kCompare;
        m.op = first == Mod::kLt    ? CompareOp::kLt
               : first == Mod::kLte ? CompareOp::kLte
               : first == Mod::kGt  ? CompareOp::kGt
                                    : CompareOp::kGte;
        if (!parse_number(v.text, m.number)) {
          return invalid("lt/lte/gt/gte need a number, not " + describe(v));
        }
        item.matchers.push_back(std::move(m));
        break;
      }
      case Mod::kRe:
        done = compile_re(mods, v, item);
        break;
      case Mod::kFieldref:
        if (!has_field) {
          return invalid("'fieldref' needs a field");
        }
        done = compile_fieldref(mods, v, item);
        break;
      default:
        for (const Mod m : mods) {
          if (m == Mod::kExists || m == Mod::kCidr || m == Mod::kLt || m == Mod::kLte ||
              m == Mod::kGt || m == Mod::kGte) {
            return invalid("exists, cidr, lt, lte, gt and gte must be the only value modifier");
          }
        }
        done = compile_strings(mods, v, item);
        break;
    }
    if (!done) {
      return std::unexpected(done.error());
    }
  }
  return item;
}

}  // namespace vigil::agent::sigma::detail
