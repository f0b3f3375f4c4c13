// Ternary multiply-add, NEON (armv8-a): smlal/smlal2 (codes w+1 x int8) into int16, widened per block.
// Tiles: GEMM 4 x 4 (activation rows x weight rows), GEMV 1 x 8; 16 weights per code vector.
#define TERN_SDOT 0
#define TERN_FN tq2_q8_gemm_4x4c16__neon
#include "ternary-mad-neon.inc"
