/** n deterministic f32 values in [-1, 1) from a 32-bit LCG seeded with `seed` (lcg-values.mjs). */
export function lcgValues(n: number, seed: number): Float32Array;
