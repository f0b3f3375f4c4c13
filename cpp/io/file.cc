// File: O_DIRECT when the filesystem takes it (probed with aligned reads), else buffered.
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "bitflash/error.h"
#include "io-internal.h"

namespace bitflash {
namespace io {

void* aligned_alloc_bytes(size_t bytes, size_t alignment) {
  void* p = nullptr;
  if (bytes == 0) bytes = alignment;
  if (posix_memalign(&p, alignment, bytes) != 0 || !p)
    fail(kErrNoMem, "could not allocate " + std::to_string(bytes) + " bytes aligned to " +
                        std::to_string(alignment));
  return p;
}

void aligned_free(void* p) { free(p); }

namespace detail {

std::string errno_text(int e) {
  char buf[128];
  // GNU strerror_r returns the message pointer (which may not be buf).
  const char* s = strerror_r(e, buf, sizeof buf);
  return std::string(s) + " (errno " + std::to_string(e) + ")";
}

}  // namespace detail

namespace {
using detail::errno_text;

// One aligned read of `len` bytes at `off` into an aligned buffer; true if the kernel took it
// (a short count at end of file is fine: only alignment is being probed).
bool probe_read(const File& f, void* buf, size_t len, uint64_t off, int* err) {
  struct iovec iov = {buf, len};
  for (;;) {
    ssize_t n = detail::checked_preadv(FaultOp::Probe, f, &iov, 1, off, len);
    if (n >= 0) return true;
    if (errno == EINTR) continue;
    *err = errno;
    return false;
  }
}

}  // namespace

File::File(const std::string& path, DirectMode mode) : path_(path) {
  int fd = -1;
  AlignedBuffer buf = make_aligned_buffer(8192);  // before open: nothing to leak if it throws
  if (mode != DirectMode::Never) {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
    if (fd < 0 && errno != EINVAL && errno != EOPNOTSUPP)
      fail(kErrIo, "cannot open " + path + ": " + errno_text(errno));
    if (fd >= 0) {
      fd_ = fd;
      direct_ = true;
      int err = 0;
      if (probe_read(*this, buf.get(), 4096, 0, &err)) {
        block_size_ = probe_read(*this, buf.get() + 512, 512, 512, &err) ? 512 : 4096;
      } else {
        ::close(fd);
        fd_ = -1;
        direct_ = false;
        if (err != EINVAL && err != EOPNOTSUPP)
          fail(kErrIo, "cannot read " + path + " at offset 0: " + errno_text(err));
      }
    }
    if (fd_ < 0 && mode == DirectMode::Require)
      fail(kErrUnsupported, "the filesystem of " + path + " refuses O_DIRECT reads");
  }
  if (fd_ < 0) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) fail(kErrIo, "cannot open " + path + ": " + errno_text(errno));
    direct_ = false;
    block_size_ = 1;
  }
  struct stat st;
  if (::fstat(fd_, &st) != 0) {
    int e = errno;
    ::close(fd_);
    fd_ = -1;
    fail(kErrIo, "cannot stat " + path + ": " + errno_text(e));
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (!direct_) {
    // Tell the kernel reads are random: no readahead beyond what is asked.
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_RANDOM);
  }
}

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace io
}  // namespace bitflash
