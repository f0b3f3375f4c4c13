/**
 * `bitflash bench matmul`: GEMV weight GB/s and GEMM GOPS of bitflash's low-bit matmul, the machine's
 * roofline measured in the same run, and onnxruntime-node (MatMulInteger for int8, MatMulNBits block 32
 * accuracy_level 4 for int4) on the same shapes and thread counts.
 *
 * Method: per (dtype, shape, threads, m): one warm-up pass, then >= 5 timed passes (1 with --quick);
 * a pass calls matmul once on each weight copy; the figure is the median time per call. GEMV (m = 1)
 * rotates over >= 1 GiB of distinct weight copies (> 2x this host's 480 MiB L3) so it reads DRAM;
 * GEMM uses 2 copies (compute bound; packed, as a GEMM user would). onnxruntime gets the same rotation
 * (one session per copy).
 */
import { cpus } from 'node:os';
import { matmulInfo, matmulSync, packSync } from '../ops/matmul.js';
import { quantize } from '../ops/quantize.js';
import { measureRoofline, type Roofline } from '../roofline.js';
import { cpuFeatures, getThreads, setThreads } from '../runtime.js';
import { QTensor, type MatmulDType } from '../tensor.js';
import { matMulIntegerModel, matMulNBitsModel } from './onnx.js';
import { median, randomF32, loadOrt, writeBenchJson } from './bench-util.js';

export interface BenchMatmulOptions {
  quick: boolean;
  threads: number[];
  dtypes: MatmulDType[];
  reps?: number;
  /** Bytes of distinct weights GEMV rotates over (default 1 GiB; --quick 32 MiB). */
  gemvBytes?: number;
  log?: (s: string) => void;
}

export interface BenchRow {
  impl: 'bitflash' | 'onnxruntime';
  dtype: MatmulDType;
  /** What ran: the bitflash kernel, or the onnxruntime op. */
  kernel: string;
  n: number;
  k: number;
  m: number;
  threads: number;
  copies: number;
  reps: number;
  medianMs: number;
  /** Weight bytes read per second (data + scales), meaningful for GEMV. */
  weightGBs: number;
  /** 2*m*n*k / time. */
  gops: number;
  /** weightGBs / DRAM read GB/s (same thread count). */
  ofDram: number;
  /** gops / int8 peak GOPS (same thread count, active path). */
  ofInt8Peak: number;
}

export interface BenchMatmulResult {
  date: string;
  machine: { cpu: string; arch: string; isa: string; logicalCpus: number };
  quick: boolean;
  roofline: Roofline;
  rows: BenchRow[];
  notes: string[];
}

const SHAPES: [number, number][] = [
  [4096, 4096],
  [11008, 4096],
  [4096, 11008],
];
const MS = [1, 8, 32, 128, 512];

/** A distinct copy of w (same values, its own memory). */
function cloneQ(w: QTensor): QTensor {
  const [n, k] = w.shape;
  switch (w.dtype) {
    case 'q8_0':
    case 'q4_0':
      return QTensor.fromGGUF(w.dtype, w.data.slice(), [n, k]);
    case 'i8c':
      return QTensor.fromPerChannel({ q: new Int8Array(w.data.slice().buffer), scales: w.scales!.slice(), n, k });
    case 'i4g':
      return QTensor.fromMatMulNBits({ B: w.data.slice(), scales: w.scales!.slice(), n, k, blockSize: w.group! });
    default:
      throw new RangeError(`bench matmul: dtype ${w.dtype} is not benchmarked`);
  }
}

async function timeCalls(copies: number, reps: number, call: (c: number) => unknown): Promise<number> {
  for (let c = 0; c < copies; c++) await call(c); // warm-up: every copy once
  const per: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let c = 0; c < copies; c++) await call(c);
    per.push((performance.now() - t0) / copies);
  }
  return median(per);
}

export async function benchMatmul(o: BenchMatmulOptions): Promise<BenchMatmulResult> {
  const log = o.log ?? (() => {});
  const reps = o.reps ?? (o.quick ? 1 : 5);
  const shapes: [number, number][] = o.quick ? [[512, 1024]] : SHAPES;
  const ms = o.quick ? [1, 8] : MS;
  const gemvBytes = o.gemvBytes ?? (o.quick ? 32 * 2 ** 20 : 2 ** 30);
  const pool = getThreads();
  const notes: string[] = [];
  const feat = cpuFeatures();

  log('measuring the roofline...');
  const roofline = await measureRoofline({
    threads: o.threads,
    bytes: o.quick ? 64 * 2 ** 20 : 2 ** 31,
    reps: o.quick ? 1 : 5,
    seconds: o.quick ? 0.01 : 0.2,
  });
  const dram = (t: number) => roofline.rows.find((r) => r.ceiling === 'dram-read' && r.threads === t)?.best ?? NaN;
  const peak = (t: number) => roofline.rows.find((r) => r.ceiling === 'int8-peak' && r.isa === feat.active && r.threads === t)?.best ?? NaN;

  const ort = await loadOrt();
  if (!ort) notes.push('onnxruntime-node is not installed: peer rows skipped (npm install -D onnxruntime-node)');
  const rows: BenchRow[] = [];
  const add = (r: Omit<BenchRow, 'ofDram' | 'ofInt8Peak' | 'weightGBs' | 'gops'>, bytes: number) => {
    const s = r.medianMs / 1e3;
    const row: BenchRow = {
      ...r,
      weightGBs: bytes / s / 1e9,
      gops: (2 * r.m * r.n * r.k) / s / 1e9,
      ofDram: 0,
      ofInt8Peak: 0,
    };
    row.ofDram = row.weightGBs / dram(r.threads);
    row.ofInt8Peak = row.gops / peak(r.threads);
    rows.push(row);
    log(`${row.impl.padEnd(11)} ${row.dtype.padEnd(5)} ${row.n}x${row.k} m=${row.m} t=${row.threads}: ${row.medianMs.toFixed(3)} ms, ${row.weightGBs.toFixed(1)} GB/s, ${row.gops.toFixed(1)} GOPS`);
  };

  try {
    for (const [n, k] of shapes) {
      const wf = randomF32(n * k, n + k);
      for (const dtype of o.dtypes) {
        const w0 = await quantize(wf, dtype === 'i4g' ? { dtype, shape: [n, k], group: 32 } : { dtype, shape: [n, k] });
        const bytes = w0.byteLength;
        const gemvCopies = Math.max(2, Math.ceil(gemvBytes / bytes));
        const copies: QTensor[] = [w0];
        for (let c = 1; c < gemvCopies; c++) copies.push(cloneQ(w0));
        const gemmCopies = copies.slice(0, 2);
        for (const c of gemmCopies) packSync(c);
        const kinfo = matmulInfo().kernels[dtype];
        // onnxruntime: one session per copy (int8 -> MatMulInteger, int4 -> MatMulNBits)
        const int8 = dtype === 'q8_0' || dtype === 'i8c';
        let i8c: QTensor | null = null;
        let i4g: QTensor | null = null;
        if (ort) {
          if (int8) i8c = dtype === 'i8c' ? w0 : await quantize(wf, { dtype: 'i8c', shape: [n, k] });
          else i4g = dtype === 'i4g' ? w0 : await quantize(wf, { dtype: 'i4g', shape: [n, k], group: 32 });
        }
        for (const t of o.threads) {
          if (t > pool) throw new RangeError(`bench matmul: --threads ${t} is above getThreads() (${pool}); set BITFLASH_THREADS`);
          setThreads(t);
          for (const m of ms) {
            const x = randomF32(m * k, m);
            const out = new Float32Array(m * n);
            const use = m === 1 ? copies : gemmCopies;
            const ms1 = await timeCalls(use.length, reps, (c) => matmulSync(use[c]!, x, { out }));
            add({ impl: 'bitflash', dtype, kernel: m >= matmulInfo().gemmMinM ? kinfo.gemm : kinfo.gemv, n, k, m, threads: t, copies: use.length, reps, medianMs: ms1 }, bytes);
          }
          if (ort) {
            const sessOpts = {
              intraOpNumThreads: t,
              interOpNumThreads: 1,
              executionMode: 'sequential' as const,
              graphOptimizationLevel: 'all' as const,
              extra: { session: { intra_op: { allow_spinning: '0' } } },
            };
            const src = (int8 ? i8c : i4g)!;
            const model = int8
              ? matMulIntegerModel(new Int8Array(src.data.buffer, src.data.byteOffset, n * k), n, k)
              : matMulNBitsModel({ data: src.data, scales: src.scales! }, n, k, 32, 4);
            const ortBytes = src.byteLength;
            const nSess = Math.max(2, Math.ceil(gemvBytes / ortBytes));
            const sessions = [];
            for (let c = 0; c < nSess; c++) sessions.push(await ort.InferenceSession.create(model, sessOpts));
            const opName = int8 ? 'MatMulInteger u8 x s8 -> s32' : 'MatMulNBits 4-bit block 32, accuracy_level 4';
            try {
              for (const m of ms) {
                const x = randomF32(m * k, m);
                const feed = int8
                  ? { A: new ort.Tensor('uint8', Uint8Array.from(x, (v) => Math.round(v * 127) + 128), [m, k]) }
                  : { A: new ort.Tensor('float32', x, [m, k]) };
                const use = m === 1 ? sessions : sessions.slice(0, 2);
                const t1 = await timeCalls(use.length, reps, (c) => use[c]!.run(feed));
                add({ impl: 'onnxruntime', dtype: int8 ? 'i8c' : 'i4g', kernel: opName, n, k, m, threads: t, copies: use.length, reps, medianMs: t1 }, ortBytes);
              }
            } finally {
              for (const s of sessions) await s.release();
            }
          }
        }
        for (const c of copies) c.dispose();
        if (i8c && i8c !== w0) i8c.dispose();
        if (i4g && i4g !== w0) i4g.dispose();
      }
    }
  } finally {
    setThreads(pool);
  }
  if (ort) notes.push('onnxruntime rows are labelled with the weight format they run (i8c: MatMulInteger on per-channel int8 weights; i4g: MatMulNBits); each is measured once per int8 / int4 dtype requested');
  return {
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', arch: feat.arch, isa: feat.active, logicalCpus: cpus().length },
    quick: o.quick,
    roofline,
    rows,
    notes,
  };
}

export function formatBenchMatmul(r: BenchMatmulResult): string {
  const lines = [
    '| impl | dtype | kernel / op | n x k | m | threads | median ms | weight GB/s | GOPS | GB/s / DRAM | GOPS / int8 peak |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const x of r.rows)
    lines.push(
      `| ${x.impl} | ${x.dtype} | ${x.kernel} | ${x.n}x${x.k} | ${x.m} | ${x.threads} | ${x.medianMs.toFixed(3)} | ${x.weightGBs.toFixed(1)} | ${x.gops.toFixed(1)} | ${(x.ofDram * 100).toFixed(0)}% | ${(x.ofInt8Peak * 100).toFixed(0)}% |`,
    );
  return lines.join('\n');
}

export function writeBenchMatmul(r: BenchMatmulResult, file?: string): string {
  return writeBenchJson('matmul', r, file);
}
