// Exceptions thrown by the native core. The binding turns them into JS errors carrying `code`,
// which lib/errors.ts maps onto BitflashError subclasses.
#pragma once
#include <stdexcept>
#include <string>

namespace bitflash {

class Error : public std::runtime_error {
 public:
  Error(const char* code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
  const char* code() const noexcept { return code_; }

 private:
  const char* code_;  // a string literal, e.g. "ERR_BITFLASH_ARG"
};

// Codes shared with lib/errors.ts (kept in sync by test/js/errors.test.ts).
inline constexpr const char* kErrArg = "ERR_BITFLASH_ARG";            // invalid argument found in C++
inline constexpr const char* kErrIo = "ERR_BITFLASH_IO";
inline constexpr const char* kErrFormat = "ERR_BITFLASH_FORMAT";
inline constexpr const char* kErrBudget = "ERR_BITFLASH_BUDGET";
inline constexpr const char* kErrNoMem = "ERR_BITFLASH_NOMEM";
inline constexpr const char* kErrUnsupported = "ERR_BITFLASH_UNSUPPORTED";
inline constexpr const char* kErrInternal = "ERR_BITFLASH_INTERNAL";
inline constexpr const char* kErrDisposed = "ERR_BITFLASH_DISPOSED";

[[noreturn]] inline void fail(const char* code, const std::string& msg) { throw Error(code, msg); }
#define BITFLASH_CHECK(cond, code, msg) \
  do {                                  \
    if (!(cond)) ::bitflash::fail(code, msg); \
  } while (0)

}  // namespace bitflash
