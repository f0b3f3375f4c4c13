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
} as const;

export type DType = keyof typeof DTYPES;
export type BlockDType = 'q8_0' | 'q4_0' | 'q4_K';
/** Weight formats a QTensor holds. */
export type QDType = 'q8_0' | 'q4_0' | 'q4_K' | 'i8c' | 'i4g';

/** Bytes needed for `elements` values of `dtype` (elements must be a multiple of the block size). */
export function byteSize(dtype: DType, elements: number): number {
  const d = DTYPES[dtype];
  return (elements / d.blockElems) * d.blockBytes;
}
