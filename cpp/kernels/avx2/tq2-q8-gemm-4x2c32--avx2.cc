// Ternary multiply-add, AVX2: vpmaddubsw (codes w+1 x int8) into int16, vpmaddwd flush per block.
// Tiles: GEMM 4 x 2 (activation rows x weight rows), GEMV 1 x 8; 32 weights per instruction.
#define TERN_VNNI 0
#define TERN_FN tq2_q8_gemm_4x2c32__avx2
#include "ternary-mad-ymm.inc"
