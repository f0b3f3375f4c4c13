/**
 * The machine's ceilings, measured with bitflash's own code on its own thread pool: DRAM read
 * bandwidth (a buffer far larger than the last-level cache) and register-resident int8 and fp32
 * multiply-accumulate peaks (1 MAC = 2 ops) of the best enabled path and of AVX2.
 */
import { native, type NativeMeasure } from './binding.js';
import { callAsync } from './errors.js';
import { cpuFeatures, getThreads, setIsa, type Isa } from './runtime.js';
import { expectInt, expectNumber } from './validate.js';

export interface RooflineOptions {
  /** Read buffer in bytes (default 2 GiB: far beyond any L3 seen here). */
  bytes?: number;
  /** Thread counts to measure (default [1, getThreads()]). */
  threads?: number[];
  /** Repetitions; the best and the median are reported (default 5). */
  reps?: number;
  /** Seconds of work per peak repetition per thread (default 0.2). */
  seconds?: number;
}

export interface RooflineRow {
  ceiling: 'dram-read' | 'int8-peak' | 'f32-peak';
  unit: 'GB/s' | 'GOPS' | 'GFLOPS';
  isa: Isa;
  kernel: string;
  threads: number;
  best: number;
  median: number;
}

export interface Roofline {
  date: string;
  cpu: { arch: string; best: Isa; active: Isa };
  rows: RooflineRow[];
}

const X86_INT8: Isa[] = ['avx512vnni', 'avxvnni', 'avx2'];

export async function measureRoofline(opts: RooflineOptions = {}): Promise<Roofline> {
  const fn = 'measureRoofline';
  const bytes = expectNumber(fn, 'bytes', opts.bytes ?? 2 ** 31, 2 ** 20, 2 ** 36);
  const reps = expectInt(fn, 'reps', opts.reps ?? 5, 1, 1000);
  const seconds = expectNumber(fn, 'seconds', opts.seconds ?? 0.2, 0.001, 60);
  const pool = getThreads();
  const threads = opts.threads ?? [...new Set([1, pool])];
  threads.forEach((t, i) => expectInt(fn, `threads[${i}]`, t, 1, pool));
  const feat = cpuFeatures();
  const rows: RooflineRow[] = [];
  const add = (ceiling: RooflineRow['ceiling'], unit: RooflineRow['unit'], isa: Isa, m: NativeMeasure) =>
    rows.push({ ceiling, unit, isa, kernel: m.kernel, threads: m.threads, best: m.best, median: m.median });
  // Paths to measure: the active one, plus AVX2 on x86 when the active path is above it.
  const paths: Isa[] = [feat.active];
  if (X86_INT8.includes(feat.active) && feat.active !== 'avx2') paths.push('avx2');
  try {
    for (const t of threads) add('dram-read', 'GB/s', feat.active, await callAsync(() => native.measureReadBandwidth(bytes, t, reps)));
    for (const isa of paths) {
      setIsa(isa);
      for (const t of threads) add('int8-peak', 'GOPS', isa, await callAsync(() => native.measureI8Peak(t, seconds, reps)));
      for (const t of threads) add('f32-peak', 'GFLOPS', isa, await callAsync(() => native.measureF32Peak(t, seconds, reps)));
    }
  } finally {
    setIsa(feat.cap);
  }
  return { date: new Date().toISOString(), cpu: { arch: feat.arch, best: feat.best, active: feat.active }, rows };
}

/** A markdown table: one row per ceiling and path, one column per thread count (best of reps). */
export function formatRoofline(r: Roofline): string {
  const threads = [...new Set(r.rows.map((x) => x.threads))].sort((a, b) => a - b);
  const keys = [...new Set(r.rows.map((x) => `${x.ceiling}|${x.isa}`))];
  const lines = [`| ceiling | kernel | ${threads.map((t) => `${t} thread${t > 1 ? 's' : ''}`).join(' | ')} |`, `|---|---|${threads.map(() => '---|').join('')}`];
  for (const k of keys) {
    const rs = r.rows.filter((x) => `${x.ceiling}|${x.isa}` === k);
    const first = rs[0]!;
    const label = first.ceiling === 'dram-read' ? 'DRAM read GB/s' : first.ceiling === 'int8-peak' ? 'int8 GOPS (1 MAC = 2 ops)' : 'fp32 GFLOPS (FMA = 2)';
    const cells = threads.map((t) => {
      const x = rs.find((y) => y.threads === t);
      return x ? `${x.best.toFixed(1)} (median ${x.median.toFixed(1)})` : '-';
    });
    lines.push(`| ${label} | ${first.kernel} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
