// The dtype table (ids, names, block geometry) exported to JS.
#include "bitflash/dtypes.h"

namespace bitflash {

static const DTypeInfo kTable[] = {
    {DType::f32, "f32", 1, 4},
    {DType::f16, "f16", 1, 2},
    {DType::i8, "i8", 1, 1},
    {DType::u8, "u8", 1, 1},
    {DType::i16, "i16", 1, 2},
    {DType::i32, "i32", 1, 4},
    {DType::q8_0, "q8_0", QK8_0, sizeof(block_q8_0)},
    {DType::q4_0, "q4_0", QK4_0, sizeof(block_q4_0)},
    {DType::q4_K, "q4_K", QK_K, sizeof(block_q4_K)},
    // The two weight-only formats below keep their scales (and zero points) beside the data; the
    // geometry here is that of the data bytes alone (i4g: two nibbles a byte, groups padded to full size).
    {DType::i8c, "i8c", 1, 1},
    {DType::i4g, "i4g", 2, 1},
    // Ternary (cpp/include/bitflash/ternary.h): GGUF TQ1_0 / TQ2_0 blocks, and bitnet.cpp's I2_S: blocks
    // of 128 2-bit codes (32 bytes), then one 32-byte trailer per tensor holding the f32 scale.
    {DType::tq1_0, "tq1_0", QK_K, sizeof(block_tq1_0)},
    {DType::tq2_0, "tq2_0", QK_K, sizeof(block_tq2_0)},
    {DType::i2_s, "i2_s", QK_I2_S, 32, 32},
};

const DTypeInfo* dtype_table(size_t* count) {
  *count = sizeof(kTable) / sizeof(kTable[0]);
  return kTable;
}

const DTypeInfo* dtype_info(DType t) {
  for (const DTypeInfo& d : kTable)
    if (d.id == t) return &d;
  return nullptr;
}

}  // namespace bitflash
