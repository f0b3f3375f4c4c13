// Integer LayerNorm / RMSNorm, armv8.2-a dotprod: sum x and sum x^2 by sdot (16 elements per
// instruction each), the output pass as norm__neon (see ../neon/dyadic-norm-neon.inc).
#define NORM_SDOT 1
#define NORM_FN norm__dotprod
#include "../neon/dyadic-norm-neon.inc"
