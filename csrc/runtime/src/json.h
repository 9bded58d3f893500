// A small, strict JSON reader (RFC 8259) for the export sidecar (options.cpp): no comments, no
// trailing commas, no duplicate object keys, strings of valid UTF-8 without raw control
// characters, numbers in JSON's own grammar, nothing after the value but whitespace. Nesting is
// limited (kMaxDepth) so that garbage input cannot exhaust the stack. No ncnn, no exceptions.
#pragma once

#include <stddef.h>

#include <string>
#include <utility>
#include <vector>

namespace pyhpe_rt {
namespace json {

constexpr int kMaxDepth = 32;

struct Value {
  enum Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = kNull;
  bool boolean = false;
  double number = 0;     // kNumber: the value (locale-independent, correctly rounded)
  std::string text;      // kNumber: its JSON text; kString: the decoded UTF-8 string
  std::vector<Value> items;                            // kArray
  std::vector<std::pair<std::string, Value>> members;  // kObject, in file order

  // The member `key` of an object, or nullptr (also when this is not an object).
  const Value* find(const char* key) const;
};

// The JSON type names used in messages ("null", "a boolean", "a number", "a string", ...).
const char* type_name(Value::Type type);

// Parses `text` as one JSON value. On failure returns false and sets *error to
// "line L, column C: <what is wrong>".
bool parse(const std::string& text, Value* out, std::string* error);

}  // namespace json
}  // namespace pyhpe_rt
