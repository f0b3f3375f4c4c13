// The tiling of the SIMD float-weight matmul kernels (fmatmul--avx2.cc, fmatmul--neon.cc), plain C++:
// weight rows in tiles of 4 (then 1 at a time), activation rows in groups of 4 (then the 3, 2 or 1 left),
// so each weight row is read once per 4 activation rows. The kernel supplies the tile as a struct
// `Tile` with `template <bool F16, int R, int M> static void tile(wr, k, x, ldx, y, ldy, r0)`: R weight
// rows (wr[0..R)) times M activation rows, writing y[b * ldy + r0 + a]. Kernel files only; a kernel's
// Tile has internal linkage, so every instantiation is that kernel's own.
#pragma once
#include <cstddef>
#include <cstdint>

namespace bitflash::fmatmul_tiles {

template <class Tile, bool F16, int M>
inline void rows(const void* w, size_t ws, size_t k, const float* x, size_t ldx, float* y, size_t ldy, size_t n0, size_t n1) {
  size_t r = n0;
  for (; r + 4 <= n1; r += 4) {
    const void* wr[4];
    for (int a = 0; a < 4; a++) wr[a] = static_cast<const uint8_t*>(w) + (r + a) * ws;
    Tile::template tile<F16, 4, M>(wr, k, x, ldx, y, ldy, r);
  }
  for (; r < n1; r++) {
    const void* wr[1] = {static_cast<const uint8_t*>(w) + r * ws};
    Tile::template tile<F16, 1, M>(wr, k, x, ldx, y, ldy, r);
  }
}

template <class Tile, bool F16>
inline void run(const void* w, size_t ws, size_t k, const float* x, size_t ldx, size_t m, float* y, size_t ldy, size_t n0,
                size_t n1) {
  size_t i = 0;
  for (; i + 4 <= m; i += 4) rows<Tile, F16, 4>(w, ws, k, x + i * ldx, ldx, y + i * ldy, ldy, n0, n1);
  switch (m - i) {
    case 3: rows<Tile, F16, 3>(w, ws, k, x + i * ldx, ldx, y + i * ldy, ldy, n0, n1); break;
    case 2: rows<Tile, F16, 2>(w, ws, k, x + i * ldx, ldx, y + i * ldy, ldy, n0, n1); break;
    case 1: rows<Tile, F16, 1>(w, ws, k, x + i * ldx, ldx, y + i * ldy, ldy, n0, n1); break;
    default: break;
  }
}

}  // namespace bitflash::fmatmul_tiles
