/**
 * Errors. Programmer errors (bad arguments) throw TypeError / RangeError synchronously with one
 * message shape: `<fn>: <argument> must be <expected>, received <what>`. Runtime failures (and any
 * check the native layer re-does) throw or reject with a BitflashError subclass carrying `code`.
 */

export type BitflashErrorCode =
  | 'ERR_BITFLASH_ARG'
  | 'ERR_BITFLASH_IO'
  | 'ERR_BITFLASH_FORMAT'
  | 'ERR_BITFLASH_BUDGET'
  | 'ERR_BITFLASH_NOMEM'
  | 'ERR_BITFLASH_UNSUPPORTED'
  | 'ERR_BITFLASH_DISPOSED'
  | 'ERR_BITFLASH_LOAD'
  | 'ERR_BITFLASH_INTERNAL';

export class BitflashError extends Error {
  readonly code: BitflashErrorCode;
  constructor(code: BitflashErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}
/** The native layer rejected an argument the TS layer let through (a re-check in C++). */
export class BitflashArgumentError extends BitflashError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_BITFLASH_ARG', message, options); }
}
export class BitflashIOError extends BitflashError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_BITFLASH_IO', message, options); }
}
export class BitflashFormatError extends BitflashError {
  /** Byte offset in the file where the problem was found, when known. */
  readonly offset: number | undefined;
  constructor(message: string, options?: { cause?: unknown; offset?: number }) {
    super('ERR_BITFLASH_FORMAT', message, options);
    this.offset = options?.offset;
  }
}
export class BitflashBudgetError extends BitflashError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_BITFLASH_BUDGET', message, options); }
}
export class BitflashMemoryError extends BitflashError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_BITFLASH_NOMEM', message, options); }
}
export class BitflashUnsupportedError extends BitflashError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_BITFLASH_UNSUPPORTED', message, options); }
}
export class BitflashDisposedError extends BitflashError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_BITFLASH_DISPOSED', message, options); }
}
export class BitflashLoadError extends BitflashError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_BITFLASH_LOAD', message, options); }
}
export class BitflashInternalError extends BitflashError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_BITFLASH_INTERNAL', message, options); }
}

const byCode: Record<BitflashErrorCode, new (message: string, options?: { cause?: unknown }) => BitflashError> = {
  ERR_BITFLASH_ARG: BitflashArgumentError,
  ERR_BITFLASH_IO: BitflashIOError,
  ERR_BITFLASH_FORMAT: BitflashFormatError,
  ERR_BITFLASH_BUDGET: BitflashBudgetError,
  ERR_BITFLASH_NOMEM: BitflashMemoryError,
  ERR_BITFLASH_UNSUPPORTED: BitflashUnsupportedError,
  ERR_BITFLASH_DISPOSED: BitflashDisposedError,
  ERR_BITFLASH_LOAD: BitflashLoadError,
  ERR_BITFLASH_INTERNAL: BitflashInternalError,
};

/** Every code the library uses (the native ones are checked against cpp/include/bitflash/error.h by a test). */
export const errorCodes = Object.keys(byCode) as BitflashErrorCode[];

/**
 * Converts an error thrown by the native layer into its BitflashError subclass. When `callSite`
 * is given (an Error created before an async native call), its stack replaces the native one, so
 * a rejection points at the user's call, not at the event loop.
 */
export function fromNative(e: unknown, callSite?: Error): unknown {
  if (e instanceof BitflashError) return e;
  if (!(e instanceof Error)) return e;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string' || !(code in byCode)) return e;
  const Ctor = byCode[code as BitflashErrorCode];
  const err = new Ctor(e.message, { cause: e });
  if (callSite?.stack) {
    const frames = callSite.stack.split('\n').slice(1).join('\n');
    err.stack = `${err.name}: ${err.message}\n${frames}`;
  }
  return err;
}

/** Runs a native call synchronously, mapping its errors. */
export function callSync<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw fromNative(e);
  }
}

/** Runs a native async call; the JS stack is captured here, before the call, for any rejection. */
export function callAsync<T>(fn: () => Promise<T>): Promise<T> {
  const callSite = new Error('bitflash call site');
  Error.captureStackTrace?.(callSite, callAsync);
  let p: Promise<T>;
  try {
    p = fn();
  } catch (e) {
    return Promise.reject(fromNative(e, callSite));
  }
  return p.catch((e: unknown) => {
    throw fromNative(e, callSite);
  });
}
