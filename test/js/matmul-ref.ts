/**
 * Independent TS references for the low-bit tests: llama.cpp's q4_0 quantizer, decoders of every weight
 * layout into (int8 values, f32 scale) per block of 32, the activation quantizer of matmul.h, and the
 * matmul itself in float64 / exact integers.
 */
import type { MatmulDType, QTensor } from '../../lib/index.js';
import { f32ToF16, roundf } from './helpers.js';

const fr = Math.fround;

export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** q4_0 as llama.cpp's quantize_row_q4_0_ref defines it, in f32 arithmetic. */
export function q4_0Reference(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 18);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[i * 32 + j]!;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = fr(max / -8);
    // 1 / d overflowing f32 (|d| < 2^-128) is undefined in llama.cpp's int8 cast: bitflash defines id = 0 (codes 8)
    const id = d !== 0 && Number.isFinite(fr(1 / d)) ? fr(1 / d) : 0;
    dv.setUint16(i * 18, f32ToF16(d), true);
    for (let j = 0; j < 16; j++) {
      const x0 = fr(x[i * 32 + j]! * id);
      const x1 = fr(x[i * 32 + 16 + j]! * id);
      const q0 = Math.min(15, Math.trunc(fr(x0 + 8.5)));
      const q1 = Math.min(15, Math.trunc(fr(x1 + 8.5)));
      out[i * 18 + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}

/** One weight matrix decoded per block of 32 along k: values (offset removed) and the block's scale. */
export interface DecodedW {
  n: number;
  k: number;
  kb: number;
  q: Int32Array; // [n][kb*32], zero past k
  d: Float64Array; // [n][kb], exactly the f32 scale
}

export interface RawWeights {
  dtype: 'q8_0' | 'q4_0' | 'i8c' | 'i4g';
  n: number;
  k: number;
  data: Uint8Array;
  scales?: Float32Array | undefined;
  zeroPoints?: Uint8Array | undefined;
  group?: number | undefined;
}

export function decodeWeights(w: RawWeights): DecodedW {
  const { n, k } = w;
  const kb = Math.ceil(k / 32);
  const q = new Int32Array(n * kb * 32);
  const d = new Float64Array(n * kb);
  const dv = new DataView(w.data.buffer, w.data.byteOffset, w.data.byteLength);
  for (let r = 0; r < n; r++) {
    for (let b = 0; b < kb; b++) {
      const o = (r * kb + b) * 32;
      if (w.dtype === 'q8_0') {
        const base = (r * kb + b) * 34;
        d[r * kb + b] = halfToFloat(dv.getUint16(base, true));
        for (let j = 0; j < 32; j++) q[o + j] = dv.getInt8(base + 2 + j);
      } else if (w.dtype === 'q4_0') {
        const base = (r * kb + b) * 18;
        d[r * kb + b] = halfToFloat(dv.getUint16(base, true));
        for (let j = 0; j < 16; j++) {
          const byte = w.data[base + 2 + j]!;
          q[o + j] = (byte & 15) - 8;
          q[o + 16 + j] = (byte >> 4) - 8;
        }
      } else if (w.dtype === 'i8c') {
        d[r * kb + b] = w.scales![r]!;
        for (let j = 0; j < 32 && b * 32 + j < k; j++) q[o + j] = dv.getInt8(r * k + b * 32 + j);
      } else {
        const g = w.group!;
        const gpr = Math.ceil(k / g);
        const zpr = Math.ceil(gpr / 2);
        const gi = Math.floor((b * 32) / g);
        d[r * kb + b] = w.scales![r * gpr + gi]!;
        const zp = w.zeroPoints ? (w.zeroPoints[r * zpr + (gi >> 1)]! >> ((gi & 1) * 4)) & 15 : 8;
        for (let j = 0; j < 32; j++) {
          const e = (b * 32 + j) % g;
          const byte = w.data[r * gpr * (g / 2) + gi * (g / 2) + (e >> 1)]!;
          const nib = e & 1 ? byte >> 4 : byte & 15;
          q[o + j] = b * 32 + j < k ? nib - zp : 0;
        }
      }
    }
  }
  return { n, k, kb, q, d };
}

/** decodeWeights of a matmul-dtype QTensor. */
export function decodeQTensor(w: QTensor): DecodedW {
  return decodeWeights({ dtype: w.dtype as MatmulDType, n: w.shape[0], k: w.shape[1], data: w.data, scales: w.scales, zeroPoints: w.zeroPoints, group: w.group });
}

/** The activation quantizer of matmul.h: per block of 32, d = amax/127 (f32), q = roundf(x * (1/d)). */
export function quantizeActs(x: Float32Array, m: number, k: number, ldx: number, off = 0): { q: Int32Array; d: Float64Array; kb: number } {
  const kb = Math.ceil(k / 32);
  const q = new Int32Array(m * kb * 32);
  const d = new Float64Array(m * kb);
  for (let i = 0; i < m; i++)
    for (let b = 0; b < kb; b++) {
      const j1 = Math.min(k, b * 32 + 32);
      let amax = 0;
      for (let j = b * 32; j < j1; j++) amax = Math.max(amax, Math.abs(x[off + i * ldx + j]!));
      const db = fr(amax / 127);
      const id = db !== 0 ? fr(1 / db) : 0;
      d[i * kb + b] = db;
      for (let j = b * 32; j < j1; j++) q[i * kb * 32 + j] = roundf(fr(x[off + i * ldx + j]! * id));
    }
  return { q, d, kb };
}

/**
 * y = x * w^T over the integer blocks, in float64, with s (for the bound) per output:
 * s[i*n+r] = sum_b |dw_b * dx_b * isum_b|, matmul.h's magnitude. The kernels remove every offset
 * (+128 for VNNI int8, 8 for q4_0, the i4g zero point) from a block's dot in int32 and convert only the
 * exact isum_b to f32, so a block that cancels (isum_b = 0) contributes no rounding at all.
 */
export function matmulBlocksRef(w: DecodedW, a: { q: Int32Array; d: Float64Array; kb: number }, m: number): { y: Float64Array; s: Float64Array } {
  const { n, kb } = w;
  const y = new Float64Array(m * n);
  const s = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let r = 0; r < n; r++) {
      let acc = 0;
      let abs = 0;
      for (let b = 0; b < kb; b++) {
        let isum = 0;
        const wo = (r * kb + b) * 32;
        const xo = (i * kb + b) * 32;
        for (let j = 0; j < 32; j++) {
          isum += w.q[wo + j]! * a.q[xo + j]!;
        }
        const sc = w.d[r * kb + b]! * a.d[i * kb + b]!;
        acc += sc * isum;
        abs += Math.abs(sc * isum);
      }
      y[i * n + r] = acc;
      s[i * n + r] = abs;
    }
  return { y, s };
}

/** Exact int32 reference with BigInt: y[i, r] = sum_k x[i, k] * wq[r, k]. */
export function matmulI32Ref(wq: Int8Array, n: number, k: number, x: Int8Array | Uint8Array, m: number, ldx: number, off = 0): Int32Array {
  const y = new Int32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let r = 0; r < n; r++) {
      let acc = 0n;
      for (let j = 0; j < k; j++) acc += BigInt(x[off + i * ldx + j]!) * BigInt(wq[r * k + j]!);
      if (acc > 2147483647n || acc < -2147483648n) throw new Error('reference overflow');
      y[i * n + r] = Number(acc);
    }
  return y;
}

/**
 * matmulBlocksRef for int8 / uint8 activations with a scale and a zero point per row, in the kernels'
 * exact terms: u8 is seen as x - 128 and its zero point as zp - 128 (`off`), and the zero point's term
 * sx * zp' * sum_j w_j comes off y, its magnitude |sx * zp'| * wabs into s. `acts` are the activations as
 * blocks, wabs[r] = sum_j |w_rj| (the row's real weights).
 */
export function matmulIntActsRef(
  w: DecodedW,
  x: Int8Array | Uint8Array,
  m: number,
  k: number,
  xScales: Float32Array,
  xZeroPoints: Int32Array | undefined,
): { y: Float64Array; s: Float64Array; acts: { q: Int32Array; d: Float64Array; kb: number }; off: number; wabs: Float64Array } {
  const off = x instanceof Uint8Array ? 128 : 0;
  const acts = { q: new Int32Array(m * w.kb * 32), d: new Float64Array(m * w.kb), kb: w.kb };
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < k; j++) acts.q[i * w.kb * 32 + j] = x[i * k + j]! - off;
    acts.d.fill(xScales[i]!, i * w.kb, (i + 1) * w.kb);
  }
  const ref = matmulBlocksRef(w, acts, m);
  const n = w.n;
  const wsum = new Float64Array(n);
  const wabs = new Float64Array(n);
  for (let rr = 0; rr < n; rr++)
    for (let b = 0; b < w.kb; b++) {
      let s = 0;
      let sa = 0;
      for (let j = 0; j < 32; j++) {
        s += w.q[(rr * w.kb + b) * 32 + j]!;
        sa += Math.abs(w.q[(rr * w.kb + b) * 32 + j]!);
      }
      wsum[rr]! += w.d[rr * w.kb + b]! * s;
      wabs[rr]! += Math.abs(w.d[rr * w.kb + b]!) * sa;
    }
  for (let i = 0; i < m; i++) {
    const zp = (xZeroPoints ? xZeroPoints[i]! : 0) - off;
    for (let rr = 0; rr < n; rr++) {
      ref.y[i * n + rr]! -= xScales[i]! * zp * wsum[rr]!;
      ref.s[i * n + rr]! += Math.abs(xScales[i]! * zp) * wabs[rr]!; // the epilogue's own f32 sum (nb terms + 3 roundings)
    }
  }
  return { ...ref, acts, off, wabs };
}
