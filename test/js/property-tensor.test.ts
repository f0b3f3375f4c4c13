/**
 * Property tests of Tensor views (issue 9): random dtypes, shapes, strides, offsets and backing lengths.
 * Tensor.from accepts exactly the views an independent oracle calls valid (last stride 1, rows that do not
 * overlap, the last element inside the array) and throws a TypeError / RangeError otherwise; an accepted
 * view reads exactly the elements its shape, strides and offset name (contiguous() against a gather);
 * slice and view keep that. The backing arrays sit at the end of guarded ArrayBuffers (byteOffset views).
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { BitflashDisposedError, Tensor } from '../../lib/index.js';
import { atEnd, count, outcome, params, tally } from './property-util.js';

afterAll(() => {
  if (process.env.BITFLASH_PROPERTY_RUNS) console.log('property-tensor runs:', JSON.stringify(Object.fromEntries(tally)));
});

const CTORS = { f32: Float32Array, f16: Uint16Array, i8: Int8Array, u8: Uint8Array, i32: Int32Array } as const;
type D = keyof typeof CTORS;

/** The oracle: is this view valid, independently of lib/tensor.ts? */
function validView(len: number, shape: number[], strides: number[], offset: number): boolean {
  if (strides[strides.length - 1] !== 1) return false;
  for (let i = 0; i + 1 < shape.length; i++) {
    const inner = (shape[i + 1]! - 1) * strides[i + 1]! + 1;
    if (shape[i]! > 1 && strides[i]! < inner) return false;
  }
  if (shape.some((d) => d === 0)) return offset <= len;
  let last = offset;
  for (let i = 0; i < shape.length; i++) last += (shape[i]! - 1) * strides[i]!;
  return last < len;
}

function gather(data: ArrayLike<number>, shape: number[], strides: number[], offset: number): number[] {
  const out: number[] = [];
  const idx = new Array<number>(shape.length).fill(0);
  const total = shape.reduce((a, b) => a * b, 1);
  for (let n = 0; n < total; n++) {
    let off = offset;
    for (let i = 0; i < shape.length; i++) off += idx[i]! * strides[i]!;
    out.push(data[off]!);
    for (let i = shape.length - 1; i >= 0; i--) {
      if (++idx[i]! < shape[i]!) break;
      idx[i] = 0;
    }
  }
  return out;
}

describe('property: Tensor views', () => {
  it('from() accepts exactly the valid views; an accepted view reads exactly its elements; slice / view agree', () => {
    fc.assert(
      fc.property(
        fc.record({
          dtype: fc.constantFrom<D>('f32', 'f16', 'i8', 'u8', 'i32'),
          shape: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 4 }),
          strideExtra: fc.array(fc.integer({ min: -3, max: 4 }), { minLength: 4, maxLength: 4 }),
          contiguous: fc.boolean(),
          offset: fc.integer({ min: 0, max: 9 }),
          lenDelta: fc.integer({ min: -3, max: 3 }),
          guard: fc.integer({ min: 0, max: 7 }),
        }),
        (c) => {
          count('tensor-views');
          const { shape } = c;
          // strides: contiguous, or each outer stride the inner extent plus a random (possibly negative) gap
          const strides = new Array<number>(shape.length);
          strides[shape.length - 1] = c.contiguous || c.strideExtra[3]! >= 0 ? 1 : 2;
          for (let i = shape.length - 2; i >= 0; i--) {
            const inner = (Math.max(shape[i + 1]!, 1) - 1) * strides[i + 1]! + 1;
            strides[i] = Math.max(0, inner + (c.contiguous ? 0 : c.strideExtra[i]!));
          }
          let need = c.offset + 1;
          for (let i = 0; i < shape.length; i++) need += Math.max(shape[i]! - 1, 0) * strides[i]!;
          const len = Math.max(0, need + c.lenDelta);
          const vals = Array.from({ length: len }, (_, i) => (i * 7 + 3) % 100);
          const data = atEnd(CTORS[c.dtype] as unknown as Int32ArrayConstructor, vals, c.guard);
          const o = outcome(() => Tensor.from(data, shape, { strides, offset: c.offset }));
          const ok = validView(len, shape, strides, c.offset);
          expect(o.ok, `shape [${shape}] strides [${strides}] offset ${c.offset} length ${len}`).toBe(ok);
          if (!o.ok) {
            expect((o as { error: unknown }).error).toBeInstanceOf(RangeError);
            return;
          }
          const t = o.value;
          expect(t.dtype).toBe(c.dtype);
          const want = gather(data, shape, strides, c.offset);
          expect(Array.from(t.contiguous())).toEqual(want);
          expect(t.size).toBe(want.length);
          if (shape[0]! > 0) {
            const a = Math.floor(shape[0]! / 3);
            const s = t.slice(a, shape[0]);
            expect(Array.from(s.contiguous())).toEqual(want.slice(a * (want.length / shape[0]!)));
            expect(Array.from(t.slice(-1).contiguous())).toEqual(want.slice(want.length - want.length / shape[0]!));
          }
          if (t.isContiguous && t.size > 0) expect(Array.from(t.view([t.size]).contiguous())).toEqual(want);
          else if (!t.isContiguous) expect(() => t.view([t.size])).toThrow(RangeError);
          t.dispose();
          expect(() => t.contiguous()).toThrow(BitflashDisposedError);
        },
      ),
      params(500),
    );
  });

  it('argument types outside the API are TypeErrors / RangeErrors', () => {
    const bad: [string, () => unknown][] = [
      ['a plain array', () => Tensor.from([1, 2, 3] as never)],
      ['a Float64Array', () => Tensor.from(new Float64Array(3) as never)],
      ['a DataView', () => Tensor.from(new DataView(new ArrayBuffer(4)) as never)],
      ['shape not an array', () => Tensor.from(new Float32Array(4), 4 as never)],
      ['shape of 9 dims', () => Tensor.from(new Float32Array(1), [1, 1, 1, 1, 1, 1, 1, 1, 1])],
      ['fractional dim', () => Tensor.from(new Float32Array(4), [1.5])],
      ['NaN dim', () => Tensor.from(new Float32Array(4), [Number.NaN])],
      ['negative offset', () => Tensor.from(new Float32Array(4), [2], { offset: -1 })],
      ['strides too short', () => Tensor.from(new Float32Array(4), [2, 2], { strides: [2] })],
      ['strides string', () => Tensor.from(new Float32Array(4), [2, 2], { strides: ['2', '1'] as never })],
      ['zeros bad dtype', () => Tensor.zeros('f64' as never, [2])],
      ['slice start past the end', () => Tensor.from(new Float32Array(4)).slice(5)],
      ['slice fractional', () => Tensor.from(new Float32Array(4)).slice(0.5)],
      ['view wrong size', () => Tensor.from(new Float32Array(4)).view([3])],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...bad), ([name, f]) => {
        count('tensor-invalid');
        const o = outcome(f);
        expect(o.ok, name).toBe(false);
        const e = (o as { error: unknown }).error;
        expect(e instanceof TypeError || e instanceof RangeError, `${name}: ${String(e)}`).toBe(true);
      }),
      params(60),
    );
  });
});
