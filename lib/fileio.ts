/**
 * Whole-buffer pread / pwrite for the TS side of the I/O layer (GGUF reader and writer), and the
 * test-only fault-injection seam they share with the native reader pool (issue 9, item 3).
 *
 * Fault injection is compiled in always and inert unless armed, and it can be armed only when
 * BITFLASH_FAULT_INJECTION=1 is in the environment: without it armFaults() throws and BITFLASH_FAULTS
 * is ignored; with no rule armed each read or write costs one check of an empty list (native: one
 * relaxed atomic load). Rules are armed from a test (armFaults) or, for a child process such as the
 * CLI, from BITFLASH_FAULTS (a JSON array of rules) at startup. Not exported from the package entry
 * point (the native side is the binding's internal `faultInjection` object). Native rules are
 * process-wide (shared by worker threads); TS rules belong to the JS thread that armed them.
 */
import { constants } from 'node:os';
import { readSync, writeSync } from 'node:fs';
import { native } from './binding.js';
import { BitflashUnsupportedError } from './errors.js';

export type FaultOp = 'read' | 'write' | 'probe' | 'any';

export interface FaultRule {
  /** Which calls the rule applies to: TS reads and native reads ('read'), TS writes ('write'), the native O_DIRECT probe ('probe'). Default 'any'. */
  op?: FaultOp;
  /** Only files whose path contains this (default: every file). The GGUF writer writes to `.<name>.tmp-<pid>` beside the output: match writes by the output's base name. */
  path?: string;
  /** Fail the call with this errno ('EIO', 'EINTR', 'ENOSPC', ...). */
  errno?: string;
  /** Else cap the call at this many bytes (a short read or write; 0 on a read = end of file). */
  maxBytes?: number;
  /** Sleep this long before the call (native: on the reader thread; TS: blocking). */
  delayMs?: number;
  /** Let this many matching calls through before the rule fires (default 0). */
  after?: number;
  /** How many times it fires (default: every later matching call). */
  count?: number;
}

interface NativeFaults {
  arm(rules: { op: string; path: string; errno: number; maxBytes: number; delayMs: number; after: number; count: number }[]): void;
  clear(): void;
  stats(): { consulted: number; injected: number };
}

let rules: Required<FaultRule>[] = [];
const tsStats = { consulted: 0, injected: 0 };

function nativeFaults(): NativeFaults | undefined {
  return (native as unknown as { faultInjection?: NativeFaults }).faultInjection;
}

/** True when this process was started with BITFLASH_FAULT_INJECTION=1. */
export function faultInjectionEnabled(): boolean {
  return process.env.BITFLASH_FAULT_INJECTION === '1' && nativeFaults() !== undefined;
}

function errnoNumber(name: string): number {
  const n = (constants.errno as Record<string, number>)[name];
  if (n === undefined) throw new RangeError(`armFaults: unknown errno ${JSON.stringify(name)}`);
  return n;
}

/** Replaces the armed rules (TS and native). Throws unless fault injection is enabled. */
export function armFaults(list: FaultRule[]): void {
  const nf = nativeFaults();
  if (!faultInjectionEnabled() || !nf) throw new BitflashUnsupportedError('armFaults: fault injection is off (start the process with BITFLASH_FAULT_INJECTION=1; tests only)');
  const full = list.map((r) => ({
    op: r.op ?? 'any', path: r.path ?? '', errno: r.errno ?? '', maxBytes: r.maxBytes ?? -1, delayMs: r.delayMs ?? 0, after: r.after ?? 0, count: r.count ?? -1,
  }));
  for (const r of full) {
    if (!['read', 'write', 'probe', 'any'].includes(r.op)) throw new RangeError(`armFaults: op must be read | write | probe | any, received ${String(r.op)}`);
    if (r.errno) errnoNumber(r.errno);
  }
  nf.arm(full.filter((r) => r.op !== 'write').map((r) => ({ ...r, errno: r.errno ? errnoNumber(r.errno) : 0 })));
  rules = full;
}

export function clearFaults(): void {
  rules = [];
  nativeFaults()?.clear();
}

/** Calls that matched a rule and faults injected, on each side, since the process started. */
export function faultStats(): { ts: { consulted: number; injected: number }; native: { consulted: number; injected: number } } {
  return { ts: { ...tsStats }, native: nativeFaults()?.stats() ?? { consulted: 0, injected: 0 } };
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The fault for a TS read or write of `length` bytes, if an armed rule fires: throws an errno error or returns a byte cap. */
function consult(op: 'read' | 'write', path: string, length: number): number {
  if (rules.length === 0) return length;
  for (const r of rules) {
    if (r.op !== 'any' && r.op !== op) continue;
    if (r.path && !path.includes(r.path)) continue;
    tsStats.consulted++;
    if (r.after > 0) {
      r.after--;
      continue;
    }
    if (r.count === 0) continue;
    if (r.count > 0) r.count--;
    if (r.delayMs > 0) sleepSync(r.delayMs);
    if (r.errno) {
      tsStats.injected++;
      const e = new Error(`${r.errno}: injected fault, ${op} ${path}`) as NodeJS.ErrnoException;
      e.code = r.errno;
      e.errno = -errnoNumber(r.errno);
      e.syscall = op;
      throw e;
    }
    if (r.maxBytes >= 0) {
      tsStats.injected++;
      return Math.min(length, r.maxBytes);
    }
    return length;
  }
  return length;
}

const MAX_EINTR = 1000;

/**
 * Reads up to `length` bytes at `position` into dst[offset..]; short reads continue, EINTR is
 * retried. Returns the bytes read (less than `length` only at end of file). Other errors throw the
 * errno error (the caller turns it into a BitflashIOError naming the file).
 */
export function preadFull(fd: number, path: string, dst: Uint8Array, offset: number, length: number, position: number): number {
  let got = 0, eintr = 0;
  while (got < length) {
    let n: number;
    try {
      const want = consult('read', path, length - got);
      n = want === 0 ? 0 : readSync(fd, dst, offset + got, want, position + got);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EINTR' && ++eintr < MAX_EINTR) continue;
      throw e;
    }
    if (n === 0) break;
    got += n;
  }
  return got;
}

/** Writes all of src at `position`; short writes continue, EINTR is retried, other errors throw. */
export function pwriteFull(fd: number, path: string, src: Uint8Array, position: number): void {
  let done = 0, eintr = 0;
  while (done < src.byteLength) {
    try {
      const want = Math.max(1, consult('write', path, src.byteLength - done));
      done += writeSync(fd, src, done, want, position + done);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EINTR' && ++eintr < MAX_EINTR) continue;
      throw e;
    }
  }
}

// A child process (e.g. the CLI under test) arms its rules from the environment, only when enabled.
if (process.env.BITFLASH_FAULT_INJECTION === '1' && process.env.BITFLASH_FAULTS) armFaults(JSON.parse(process.env.BITFLASH_FAULTS) as FaultRule[]);
