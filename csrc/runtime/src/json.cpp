// The strict JSON reader of json.h: a recursive-descent parser over the whole text.
#include "json.h"

#include <stdio.h>
#include <string.h>

#include <locale>
#include <sstream>

namespace pyhpe_rt {
namespace json {

const Value* Value::find(const char* key) const {
  if (type != kObject) return nullptr;
  for (const auto& m : members)
    if (m.first == key) return &m.second;
  return nullptr;
}

const char* type_name(Value::Type type) {
  switch (type) {
    case Value::kNull: return "null";
    case Value::kBool: return "a boolean";
    case Value::kNumber: return "a number";
    case Value::kString: return "a string";
    case Value::kArray: return "an array";
    case Value::kObject: return "an object";
  }
  return "?";
}

namespace {

class Parser {
 public:
  explicit Parser(const std::string& text) : s_(text) {}

  bool document(Value* out) {
    skip_ws();
    if (!value(out, 0)) return false;
    skip_ws();
    if (pos_ != s_.size()) return fail("unexpected text after the JSON value");
    return true;
  }

  const std::string& error() const { return error_; }

 private:
  bool fail(const std::string& what) {
    if (error_.empty()) {
      size_t line = 1, col = 1;
      for (size_t i = 0; i < pos_ && i < s_.size(); ++i) {
        if (s_[i] == '\n') {
          ++line;
          col = 1;
        } else {
          ++col;
        }
      }
      error_ = "line " + std::to_string(line) + ", column " + std::to_string(col) + ": " + what;
    }
    return false;
  }

  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }

  void skip_ws() {
    while (!at_end() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }

  bool expect(char c) {
    if (peek() != c || at_end()) return fail(std::string("expected '") + c + "'" + found());
    ++pos_;
    return true;
  }

  std::string found() const {
    if (at_end()) return ", found the end of the file";
    const unsigned char c = (unsigned char)s_[pos_];
    if (c >= 0x20 && c < 0x7f) return std::string(", found '") + (char)c + "'";
    char buf[32];
    snprintf(buf, sizeof buf, ", found byte 0x%02x", c);
    return buf;
  }

  bool value(Value* out, int depth) {
    if (depth >= kMaxDepth) return fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
    const char c = peek();
    if (at_end()) return fail("expected a value, found the end of the file");
    if (c == '{') return object(out, depth);
    if (c == '[') return array(out, depth);
    if (c == '"') {
      out->type = Value::kString;
      return string(&out->text);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return number(out);
    if (literal("true")) {
      out->type = Value::kBool;
      out->boolean = true;
      return true;
    }
    if (literal("false")) {
      out->type = Value::kBool;
      out->boolean = false;
      return true;
    }
    if (literal("null")) {
      out->type = Value::kNull;
      return true;
    }
    return fail("expected a value" + found());
  }

  bool literal(const char* word) {
    const size_t n = strlen(word);
    if (s_.compare(pos_, n, word) != 0) return false;
    pos_ += n;
    return true;
  }

  // The elements of an array or object up to `close` (the opening bracket is consumed): each one
  // parsed by element(), separated by commas.
  template <class Element>
  bool elements(char close, Element element) {
    skip_ws();
    if (peek() == close && !at_end()) {
      ++pos_;
      return true;
    }
    for (;;) {
      skip_ws();
      if (!element()) return false;
      skip_ws();
      if (peek() == ',' && !at_end()) {
        ++pos_;
        continue;
      }
      if (peek() == close && !at_end()) {
        ++pos_;
        return true;
      }
      return fail(std::string("expected ',' or '") + close + "'" + found());
    }
  }

  bool object(Value* out, int depth) {
    out->type = Value::kObject;
    ++pos_;  // '{'
    return elements('}', [&]() {
      if (peek() != '"' || at_end()) return fail("expected a string key" + found());
      const size_t key_pos = pos_;
      std::string key;
      if (!string(&key)) return false;
      if (out->find(key.c_str())) {
        pos_ = key_pos;
        return fail("duplicate key \"" + key + "\"");
      }
      skip_ws();
      if (!expect(':')) return false;
      skip_ws();
      out->members.emplace_back(key, Value());
      return value(&out->members.back().second, depth + 1);
    });
  }

  bool array(Value* out, int depth) {
    out->type = Value::kArray;
    ++pos_;  // '['
    return elements(']', [&]() {
      out->items.emplace_back();
      return value(&out->items.back(), depth + 1);
    });
  }

  static bool is_digit(char c) { return c >= '0' && c <= '9'; }

  // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  bool number(Value* out) {
    const size_t start = pos_;
    if (peek() == '-') ++pos_;
    if (peek() == '0' && !at_end()) {
      ++pos_;
    } else if (is_digit(peek()) && !at_end()) {
      while (is_digit(peek()) && !at_end()) ++pos_;
    } else {
      return fail("invalid number: expected a digit" + found());
    }
    if (peek() == '.' && !at_end()) {
      ++pos_;
      if (!is_digit(peek()) || at_end()) return fail("invalid number: expected a digit after '.'" + found());
      while (is_digit(peek()) && !at_end()) ++pos_;
    }
    if ((peek() == 'e' || peek() == 'E') && !at_end()) {
      ++pos_;
      if ((peek() == '+' || peek() == '-') && !at_end()) ++pos_;
      if (!is_digit(peek()) || at_end()) return fail("invalid number: expected a digit in the exponent" + found());
      while (is_digit(peek()) && !at_end()) ++pos_;
    }
    out->type = Value::kNumber;
    out->text = s_.substr(start, pos_ - start);
    // The classic locale: '.' is the decimal point whatever the process's locale is.
    std::istringstream in(out->text);
    in.imbue(std::locale::classic());
    in >> out->number;
    if (in.fail()) {
      pos_ = start;
      return fail("number out of range: " + out->text);
    }
    return true;
  }

  static void append_utf8(std::string* out, unsigned cp) {
    if (cp < 0x80) {
      out->push_back((char)cp);
    } else if (cp < 0x800) {
      out->push_back((char)(0xc0 | (cp >> 6)));
      out->push_back((char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out->push_back((char)(0xe0 | (cp >> 12)));
      out->push_back((char)(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back((char)(0x80 | (cp & 0x3f)));
    } else {
      out->push_back((char)(0xf0 | (cp >> 18)));
      out->push_back((char)(0x80 | ((cp >> 12) & 0x3f)));
      out->push_back((char)(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back((char)(0x80 | (cp & 0x3f)));
    }
  }

  bool hex4(unsigned* cp) {
    *cp = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = peek();
      unsigned d;
      if (at_end()) return fail("truncated \\u escape");
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else return fail("invalid \\u escape" + found());
      *cp = *cp * 16 + d;
      ++pos_;
    }
    return true;
  }

  // One UTF-8 sequence starting at pos_ (validated: no overlong forms, no surrogates, <= U+10FFFF).
  bool utf8_char(std::string* out) {
    const unsigned char c = (unsigned char)s_[pos_];
    int n;
    unsigned cp, min;
    if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; min = 0x10000; }
    else return fail("invalid UTF-8 in a string" + found());
    const size_t start = pos_;
    ++pos_;
    for (int i = 0; i < n; ++i) {
      if (at_end() || ((unsigned char)s_[pos_] & 0xc0) != 0x80) return fail("invalid UTF-8 in a string" + found());
      cp = (cp << 6) | ((unsigned char)s_[pos_] & 0x3f);
      ++pos_;
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      pos_ = start;
      return fail("invalid UTF-8 in a string" + found());
    }
    out->append(s_, start, pos_ - start);
    return true;
  }

  bool string(std::string* out) {
    ++pos_;  // '"'
    out->clear();
    for (;;) {
      if (at_end()) return fail("unterminated string");
      const unsigned char c = (unsigned char)s_[pos_];
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return fail("raw control character in a string" + found());
      if (c >= 0x80) {
        if (!utf8_char(out)) return false;
        continue;
      }
      if (c != '\\') {
        out->push_back((char)c);
        ++pos_;
        continue;
      }
      ++pos_;
      if (at_end()) return fail("unterminated string");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          unsigned cp;
          if (!hex4(&cp)) return false;
          if (cp >= 0xdc00 && cp <= 0xdfff) return fail("unpaired low surrogate in a \\u escape");
          if (cp >= 0xd800 && cp <= 0xdbff) {
            unsigned lo;
            if (!literal("\\u")) return fail("unpaired high surrogate in a \\u escape");
            if (!hex4(&lo)) return false;
            if (lo < 0xdc00 || lo > 0xdfff) return fail("unpaired high surrogate in a \\u escape");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          }
          if (cp == 0) return fail("\\u0000 in a string");
          append_utf8(out, cp);
          break;
        }
        default:
          --pos_;
          return fail("invalid escape in a string" + found());
      }
    }
  }

  const std::string& s_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace

bool parse(const std::string& text, Value* out, std::string* error) {
  Parser p(text);
  Value v;
  if (!p.document(&v)) {
    if (error) *error = p.error();
    return false;
  }
  *out = std::move(v);
  return true;
}

}  // namespace json
}  // namespace pyhpe_rt
