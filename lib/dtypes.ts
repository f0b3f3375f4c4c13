/** Dtype names, ids and block geometry; mirrors cpp/include/bitflash/dtypes.h (checked by a test). */

export const DTYPES = {
  f32: { id: 0, blockElems: 1, blockBytes: 4 },
  f16: { id: 1, blockElems: 1, blockBytes: 2 },
  i8: { id: 2, blockElems: 1, blockBytes: 1 },
  u8: { id: 3, blockElems: 1, blockBytes: 1 },
  i16: { id: 4, blockElems: 1, blockBytes: 2 },
  i32: { id: 5, blockElems: 1, blockBytes: 4 },
  q8_0: { id: 8, blockElems: 32, blockBytes: 34 },
  q4_0: { id: 9, blockElems: 32, blockBytes: 18 },
  q4_K: { id: 12, blockElems: 256, blockBytes: 144 },
  /** Per-channel int8 weights: n x k int8 plus n f32 scales (geometry of the data bytes only). */
  i8c: { id: 20, blockElems: 1, blockBytes: 1 },
  /** Grouped int4 in onnxruntime MatMulNBits layout: two nibbles a byte; f32 scales and optional zero points beside. */
  i4g: { id: 21, blockElems: 2, blockBytes: 1 },
  /** GGUF TQ1_0: 256 ternary weights in 54 bytes (5 trits a byte, f16 absmax). */
  tq1_0: { id: 34, blockElems: 256, blockBytes: 54 },
  /** GGUF TQ2_0: 256 ternary weights in 66 bytes (2-bit codes, f16 absmax). */
  tq2_0: { id: 35, blockElems: 256, blockBytes: 66 },
  /** bitnet.cpp I2_S: 128 2-bit codes in 32 bytes, then one 32-byte trailer per tensor (its f32 scale). */
  i2_s: { id: 36, blockElems: 128, blockBytes: 32, trailerBytes: 32 },
} as const;

export type DType = keyof typeof DTYPES;
export type BlockDType = 'q8_0' | 'q4_0' | 'q4_K';
/** Weight formats a QTensor holds. */
export type QDType = 'q8_0' | 'q4_0' | 'q4_K' | 'i8c' | 'i4g' | 'tq1_0' | 'tq2_0' | 'i2_s';

/** Bytes needed for `elements` values of `dtype` (elements must be a multiple of the block size). */
export function byteSize(dtype: DType, elements: number): number {
  const d = DTYPES[dtype];
  return (elements / d.blockElems) * d.blockBytes + trailerBytes(dtype);
}

/** Bytes after the last block, once per tensor (i2_s: 32; every other dtype: 0). */
export function trailerBytes(dtype: DType): number {
  const d = DTYPES[dtype] as { trailerBytes?: number };
  return d.trailerBytes ?? 0;
}
