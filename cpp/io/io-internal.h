// Internal to cpp/io: the fault-injection-aware read primitive shared by File and ReaderPool.
#pragma once
#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <string>

#include "bitflash/io.h"

namespace bitflash {
namespace io {
namespace detail {

// "No such file or directory (errno 2)"
std::string errno_text(int e);

// preadv, after consulting the fault hook (if one is set) for `op`: an injected errno makes it
// return -1 with errno set and no read done; an injected max_bytes caps the returned count (the
// real read still happens, so only bytes the caller asked for are ever written).
ssize_t checked_preadv(FaultOp op, const File& file, const struct iovec* iov, int iovcnt,
                       uint64_t offset, size_t total);

}  // namespace detail
}  // namespace io
}  // namespace bitflash
