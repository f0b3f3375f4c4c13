/**
 * `bitflash bench ternary`: ternary (tq2_0) matmul, both families forced and 'auto', on BitNet-like and
 * Llama-7B shapes, with the roofline measured in the same run and bitflash's own q4_0 / q8_0 matmul on
 * the same shapes.
 *
 * Method: per (shape, threads, m, variant): one warm-up pass over every copy, then >= 5 timed passes
 * (--quick: 1); a pass calls matmul once on each weight copy; the figure is the median time per call.
 * GEMV (m = 1) rotates over distinct copies of >= 1 GiB of the bytes the variant reads (> 2x this host's
 * L3 when it is <= 480 MiB) so weights come from DRAM; GEMM (m > 1) uses 2 copies.
 * Counting: weight GB/s = bytes of the packed form the kernel streams per call (mad: 64 code bytes + a
 * 4-byte f32 scale per row and 256 weights = 2.125 bits/weight; lut: 960 bytes per 16 rows and 256
 * weights incl. signs, counts and scales = 1.875 bits/weight) divided by the time; q4_0 / q8_0 count
 * their GGUF block bytes. GOPS = 2 m n k / time (one multiply and one add per weight
 * and activation, whatever the kernel does). "weights per int8 op" = weights consumed per int8 SIMD
 * lane operation the kernel issues, derived from its inner loop (mad: vpmaddubsw / vpdpbusd handle one
 * weight per int8 lane op = 1; lut: one vpshufb byte lane looks up a group of 3 weights, = 3, with two
 * lookups (low / high byte) per group -> 1.5 per int8 lane op); it is a statement of the kernel's
 * design, printed beside the measured GOPS so its effect on the int8-peak ratio can be read.
 */
import { cpus } from 'node:os';
import { matmulInfo, matmulSync, packSync } from '../ops/matmul.js';
import { quantize } from '../ops/quantize.js';
import { ternaryKernels, ternaryTune } from '../ops/ternary.js';
import { measureRoofline, type Roofline } from '../roofline.js';
import { cpuFeatures, getThreads, setThreads } from '../runtime.js';
import { QTensor } from '../tensor.js';
import { median, randomF32, writeBenchJson } from './bench-util.js';

export interface BenchTernaryOptions {
  quick: boolean;
  threads: number[];
  reps?: number;
  gemvBytes?: number;
  shapes?: [number, number][];
  ms?: number[];
  log?: (s: string) => void;
}

export type TernaryVariant = 'tq2_0 mad' | 'tq2_0 lut' | 'tq2_0 auto' | 'q4_0' | 'q8_0';

export interface BenchTernaryRow {
  variant: TernaryVariant;
  /** The kernel (or, for auto, the family the tuner chose). */
  kernel: string;
  n: number;
  k: number;
  m: number;
  threads: number;
  copies: number;
  reps: number;
  medianMs: number;
  /** Bytes the variant's kernel streams per call (packed form or GGUF blocks). */
  weightBytes: number;
  weightGBs: number;
  gops: number;
  /** Design constant of the kernel, see the module comment (null for q4_0 / q8_0: not stated here). */
  weightsPerInt8Op: number | null;
  ofDram: number;
  ofInt8Peak: number;
}

export interface BenchTernaryResult {
  date: string;
  machine: { cpu: string; arch: string; isa: string; logicalCpus: number };
  quick: boolean;
  kernels: ReturnType<typeof ternaryKernels>;
  roofline: Roofline;
  rows: BenchTernaryRow[];
  notes: string[];
}

const SHAPES: [number, number][] = [
  [2560, 2560],
  [6912, 2560],
  [2560, 6912],
  [4096, 4096],
  [11008, 4096],
];
const MS = [1, 8, 128, 512];

function timeCalls(copies: number, reps: number, call: (c: number) => unknown): number {
  for (let c = 0; c < copies; c++) call(c);
  const per: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let c = 0; c < copies; c++) call(c);
    per.push((performance.now() - t0) / copies);
  }
  return median(per);
}

export async function benchTernary(o: BenchTernaryOptions): Promise<BenchTernaryResult> {
  const log = o.log ?? (() => {});
  const reps = o.reps ?? (o.quick ? 1 : 5);
  const shapes = o.shapes ?? (o.quick ? [[2560, 2560] as [number, number]] : SHAPES);
  const ms = o.ms ?? (o.quick ? [1, 8] : MS);
  const gemvBytes = o.gemvBytes ?? (o.quick ? 48 * 2 ** 20 : 2 ** 30);
  const pool = getThreads();
  const notes: string[] = [];
  const feat = cpuFeatures();
  for (const t of o.threads) if (t > pool) throw new RangeError(`bench ternary: --threads ${t} is above getThreads() (${pool}); set BITFLASH_THREADS`);

  log('measuring the roofline...');
  const roofline = await measureRoofline({
    threads: o.threads,
    bytes: o.quick ? 64 * 2 ** 20 : 2 ** 31,
    reps: o.quick ? 1 : 5,
    seconds: o.quick ? 0.01 : 0.2,
  });
  const dram = (t: number) => roofline.rows.find((r) => r.ceiling === 'dram-read' && r.threads === t)?.best ?? NaN;
  const peak = (t: number) => roofline.rows.find((r) => r.ceiling === 'int8-peak' && r.isa === feat.active && r.threads === t)?.best ?? NaN;
  const kern = ternaryKernels();
  const rows: BenchTernaryRow[] = [];
  const add = (r: Omit<BenchTernaryRow, 'weightGBs' | 'gops' | 'ofDram' | 'ofInt8Peak'>) => {
    const s = r.medianMs / 1e3;
    const row: BenchTernaryRow = { ...r, weightGBs: r.weightBytes / s / 1e9, gops: (2 * r.m * r.n * r.k) / s / 1e9, ofDram: 0, ofInt8Peak: 0 };
    row.ofDram = row.weightGBs / dram(r.threads);
    row.ofInt8Peak = row.gops / peak(r.threads);
    rows.push(row);
    log(`${row.variant.padEnd(10)} ${row.n}x${row.k} m=${row.m} t=${row.threads} ${row.kernel}: ${row.medianMs.toFixed(3)} ms, ${row.weightGBs.toFixed(1)} GB/s, ${row.gops.toFixed(1)} GOPS`);
  };

  try {
    for (const [n, k] of shapes) {
      const wf = randomF32(n * k, n + k);
      // ternary weights: quantize once, copies share the values but not the memory
      const t0 = await quantize(wf, { dtype: 'tq2_0', shape: [n, k] });
      const w0 = QTensor.fromGGUF('tq2_0', t0.data, [n, k]);
      matmulSync(w0, randomF32(k, 1), { family: 'mad' });
      matmulSync(w0, randomF32(k, 1), { family: 'lut' });
      const packedBytes = w0.ternaryPackedBytes;
      const maxBytes = Math.max(packedBytes.mad, packedBytes.lut);
      const nCopies = Math.max(2, Math.ceil(gemvBytes / maxBytes));
      const copies: QTensor<'tq2_0'>[] = [w0];
      for (let c = 1; c < nCopies; c++) {
        const w = QTensor.fromGGUF('tq2_0', t0.data.slice(), [n, k]);
        matmulSync(w, randomF32(k, 1), { family: 'mad' }); // packs mad
        matmulSync(w, randomF32(k, 1), { family: 'lut' }); // packs lut
        copies.push(w);
      }
      // q4_0 / q8_0 on the same shape: bytes-for-bytes the same rotation budget
      const peers: { variant: 'q4_0' | 'q8_0'; copies: QTensor[] }[] = [];
      for (const dtype of ['q4_0', 'q8_0'] as const) {
        const q0 = await quantize(wf, { dtype, shape: [n, k] });
        const cs: QTensor[] = [q0];
        const nq = Math.max(2, Math.ceil(gemvBytes / q0.byteLength));
        for (let c = 1; c < nq; c++) cs.push(QTensor.fromGGUF(dtype, q0.data.slice(), [n, k]));
        packSync(cs[0]!);
        packSync(cs[1]!);
        peers.push({ variant: dtype, copies: cs });
      }
      for (const t of o.threads) {
        setThreads(t);
        for (const m of ms) {
          const x = randomF32(m * k, m + 7);
          const out = new Float32Array(m * n);
          const use = m === 1 ? copies : copies.slice(0, 2);
          for (const fam of ['mad', 'lut', 'auto'] as const) {
            const med = timeCalls(use.length, reps, (c) => matmulSync(use[c]!, x, { family: fam, out }));
            const chosen = fam === 'auto' ? (ternaryTune.chosen([n, k], m) ?? 'mad') : fam;
            add({
              variant: `tq2_0 ${fam}`,
              kernel: fam === 'auto' ? `auto -> ${chosen}` : chosen === 'mad' ? kern.mad : kern.lut,
              n,
              k,
              m,
              threads: t,
              copies: use.length,
              reps,
              medianMs: med,
              weightBytes: packedBytes[chosen],
              weightsPerInt8Op: chosen === 'mad' ? 1 : 1.5,
            });
          }
          for (const p of peers) {
            const pu = m === 1 ? p.copies : p.copies.slice(0, 2);
            const med = timeCalls(pu.length, reps, (c) => matmulSync(pu[c]!, x, { out }));
            const info = matmulInfo();
            add({
              variant: p.variant,
              kernel: m >= info.gemmMinM ? info.kernels[p.variant].gemm : info.kernels[p.variant].gemv,
              n,
              k,
              m,
              threads: t,
              copies: pu.length,
              reps,
              medianMs: med,
              weightBytes: p.copies[0]!.byteLength,
              weightsPerInt8Op: null,
            });
          }
        }
      }
      for (const c of copies) c.dispose();
      t0.dispose();
      for (const p of peers) for (const c of p.copies) c.dispose();
    }
  } finally {
    setThreads(pool);
  }
  notes.push(`ternary kernels on this path: activations ${kern.activations}, mad ${kern.mad}, lut ${kern.lut} (table build ${kern.lutBuild})`);
  notes.push('auto rows include nothing of the tuning itself: it runs in the warm-up pass (first call per shape, m bucket, ISA, threads)');
  notes.push('weight GB/s counts the bytes of the packed form the family streams (tq2_0 auto: the chosen family); q4_0 / q8_0 their GGUF blocks');
  return {
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', arch: feat.arch, isa: feat.active, logicalCpus: cpus().length },
    quick: o.quick,
    kernels: kern,
    roofline,
    rows,
    notes,
  };
}

export function formatBenchTernary(r: BenchTernaryResult): string {
  const lines = [
    '| variant | kernel | n x k | m | threads | median ms | weight GB/s | GOPS | weights / int8 op | GB/s / DRAM | GOPS / int8 peak |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const x of r.rows)
    lines.push(
      `| ${x.variant} | ${x.kernel} | ${x.n}x${x.k} | ${x.m} | ${x.threads} | ${x.medianMs.toFixed(3)} | ${x.weightGBs.toFixed(1)} | ${x.gops.toFixed(1)} | ${x.weightsPerInt8Op ?? '-'} | ${(x.ofDram * 100).toFixed(0)}% | ${(x.ofInt8Peak * 100).toFixed(0)}% |`,
    );
  return lines.join('\n');
}

export function writeBenchTernary(r: BenchTernaryResult, file?: string): string {
  return writeBenchJson('ternary', r, file);
}
