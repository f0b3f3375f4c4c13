// Ternary multiply-add, armv8.2-a dotprod: sdot (codes w+1 x int8) into int32, 16 weights per instruction.
// Tiles: GEMM 4 x 4 (activation rows x weight rows), GEMV 1 x 8.
#define TERN_SDOT 1
#define TERN_FN tq2_q8_gemm_4x4c16__dotprod
#include "../neon/ternary-mad-neon.inc"
