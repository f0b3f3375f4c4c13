// Ternary multiply-add, AVX-VNNI: vpdpbusd ymm (codes w+1 x int8 -> int32) in one instruction.
// Tiles: GEMM 4 x 2, GEMV 1 x 8; same body as the AVX2 kernel.
#define TERN_VNNI 1
#define TERN_FN tq2_q8_gemm_4x2c32__avxvnni
#include "../avx2/ternary-mad-ymm.inc"
