// Integer LayerNorm / RMSNorm, NEON (armv8-a): row statistics with smull + sadalp (see the .inc).
#define NORM_SDOT 0
#define NORM_FN norm__neon
#include "dyadic-norm-neon.inc"
