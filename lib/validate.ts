/** Argument validation with one message shape: `<fn>: <arg> must be <expected>, received <what>`. */

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : `number ${v}`;
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'bigint') return `bigint ${v}`;
  if (typeof v === 'boolean') return `boolean ${v}`;
  if (typeof v === 'function') return 'a function';
  if (ArrayBuffer.isView(v)) {
    const len = 'length' in v ? (v as unknown as { length: number }).length : v.byteLength;
    return `${v.constructor.name}(${len})`;
  }
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  return `an object (${(v as object).constructor?.name ?? 'Object'})`;
}

export function typeError(fn: string, arg: string, expected: string, received: unknown): TypeError {
  return new TypeError(`${fn}: ${arg} must be ${expected}, received ${describe(received)}`);
}

export function rangeError(fn: string, arg: string, expected: string, received: unknown): RangeError {
  return new RangeError(`${fn}: ${arg} must be ${expected}, received ${describe(received)}`);
}

type TypedArrayCtor<T> = { new (n: number): T; readonly name: string };

export function expectTyped<T extends ArrayBufferView>(fn: string, arg: string, v: unknown, ctor: TypedArrayCtor<T>): T {
  if (!(v instanceof (ctor as unknown as new (...a: never[]) => T))) throw typeError(fn, arg, `a ${ctor.name}`, v);
  return v;
}

export function expectInt(fn: string, arg: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number') throw typeError(fn, arg, `an integer from ${min} to ${max}`, v);
  if (!Number.isInteger(v) || v < min || v > max) throw rangeError(fn, arg, `an integer from ${min} to ${max}`, v);
  return v;
}

export function expectNumber(fn: string, arg: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number') throw typeError(fn, arg, `a number from ${min} to ${max}`, v);
  if (!(v >= min && v <= max)) throw rangeError(fn, arg, `a number from ${min} to ${max}`, v);
  return v;
}

export function expectOneOf<T extends string>(fn: string, arg: string, v: unknown, values: readonly T[]): T {
  if (typeof v !== 'string') throw typeError(fn, arg, `one of ${values.join(' | ')}`, v);
  if (!(values as readonly string[]).includes(v)) throw rangeError(fn, arg, `one of ${values.join(' | ')}`, v);
  return v as T;
}

export function expectMultiple(fn: string, arg: string, n: number, k: number, what = 'length'): void {
  if (n % k !== 0) throw new RangeError(`${fn}: ${arg} ${what} must be a multiple of ${k}, received ${n}`);
}
