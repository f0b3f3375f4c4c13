/**
 * The native addon, loaded once with node-gyp-build: build/Release first (a source build), then
 * prebuilds/<platform>-<arch>/ (shipped in the npm package). Every native export is typed here.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { BitflashLoadError } from './errors.js';

export interface NativeMeasure {
  best: number;
  median: number;
  threads: number;
  kernel: string;
}

export interface NativeCpuFeatures {
  arch: string;
  flags: Record<
    | 'sse42' | 'avx' | 'avx2' | 'fma' | 'f16c' | 'bmi2' | 'avxvnni' | 'avx512f' | 'avx512bw' | 'avx512vl'
    | 'avx512vnni' | 'avx512bf16' | 'amx_int8' | 'neon' | 'dotprod' | 'i8mm' | 'sve',
    boolean
  >;
  paths: string[];
  best: string;
}

/** Weights as the native matmul reads them (built from a QTensor by lib/ops/matmul.ts). */
export interface NativeWeights {
  dtype: number;
  n: number;
  k: number;
  data: Uint8Array;
  scales?: Float32Array | undefined;
  zeroPoints?: Uint8Array | undefined;
  group?: number | undefined;
}

/** Opaque handle to packed weights in native memory (a type-tagged External). */
export interface NativePacked {
  readonly __bitflashPacked: unique symbol;
}

/** Opaque handle to ternary packed weights (mad or lut layout) in native memory. */
export interface NativeTernaryPacked {
  readonly __bitflashTernaryPacked: unique symbol;
}

export interface NativeMatmulInfo {
  gemmMinM: number;
  kernels: Record<'q8_0' | 'q4_0' | 'i8c' | 'i4g', { gemv: string; gemm: string }>;
}

/** Opaque handle to a dyadic op's prepared constants (a type-tagged External). */
export interface NativeDyadicParams {
  readonly __bitflashDyadicParams: unique symbol;
}

export interface NativeBinding {
  cpuFeatures(): NativeCpuFeatures;
  getIsa(): { cap: string; active: string };
  setIsaCap(isa: string): { cap: string; active: string };
  kernelChoices(): { op: string; kernel: string; isa: string }[];
  setThreads(n: number): number;
  getThreads(): number;
  physicalCores(): number;
  dtypeTable(): { id: number; name: string; blockElems: number; blockBytes: number; trailerBytes: number }[];
  readonly sanitized: boolean;

  quantizeQ8_0Sync(src: Float32Array, dst: Uint8Array): void;
  quantizeQ8_0(src: Float32Array, dst: Uint8Array): Promise<void>;
  dequantizeQ8_0Sync(src: Uint8Array, dst: Float32Array): void;
  dequantizeQ8_0(src: Uint8Array, dst: Float32Array): Promise<void>;

  quantizeQ4_0Sync(src: Float32Array, dst: Uint8Array): void;
  quantizeQ4_0(src: Float32Array, dst: Uint8Array): Promise<void>;
  dequantizeQ4_0Sync(src: Uint8Array, dst: Float32Array): void;
  dequantizeQ4_0(src: Uint8Array, dst: Float32Array): Promise<void>;
  dequantizeQ4_KSync(src: Uint8Array, dst: Float32Array): void;
  dequantizeQ4_K(src: Uint8Array, dst: Float32Array): Promise<void>;
  quantizeI8cSync(x: Float32Array, n: number, k: number, q: Int8Array, scales: Float32Array): void;
  quantizeI8c(x: Float32Array, n: number, k: number, q: Int8Array, scales: Float32Array): Promise<void>;
  dequantizeI8cSync(q: Int8Array, scales: Float32Array, n: number, k: number, y: Float32Array): void;
  dequantizeI8c(q: Int8Array, scales: Float32Array, n: number, k: number, y: Float32Array): Promise<void>;
  quantizeI4gSync(x: Float32Array, n: number, k: number, group: number, symmetric: boolean, data: Uint8Array, scales: Float32Array, zeroPoints: Uint8Array | null): void;
  quantizeI4g(x: Float32Array, n: number, k: number, group: number, symmetric: boolean, data: Uint8Array, scales: Float32Array, zeroPoints: Uint8Array | null): Promise<void>;
  dequantizeI4gSync(data: Uint8Array, scales: Float32Array, zeroPoints: Uint8Array | null, n: number, k: number, group: number, y: Float32Array): void;
  dequantizeI4g(data: Uint8Array, scales: Float32Array, zeroPoints: Uint8Array | null, n: number, k: number, group: number, y: Float32Array): Promise<void>;

  matmulF32Sync(w: NativeWeights, packed: NativePacked | null, x: Float32Array, m: number, ldx: number, y: Float32Array, ldy: number): void;
  matmulF32(w: NativeWeights, packed: NativePacked | null, x: Float32Array, m: number, ldx: number, y: Float32Array, ldy: number): Promise<void>;
  matmulQ8Sync(w: NativeWeights, packed: NativePacked | null, x: Int8Array | Uint8Array, m: number, ldx: number, xScales: Float32Array, xZeroPoints: Int32Array | null, y: Float32Array, ldy: number): void;
  matmulQ8(w: NativeWeights, packed: NativePacked | null, x: Int8Array | Uint8Array, m: number, ldx: number, xScales: Float32Array, xZeroPoints: Int32Array | null, y: Float32Array, ldy: number): Promise<void>;
  matmulI32Sync(w: NativeWeights, packed: NativePacked | null, x: Int8Array | Uint8Array, m: number, ldx: number, y: Int32Array, ldy: number): void;
  matmulI32(w: NativeWeights, packed: NativePacked | null, x: Int8Array | Uint8Array, m: number, ldx: number, y: Int32Array, ldy: number): Promise<void>;
  linearIntSync(w: NativeWeights, packed: NativePacked | null, x: Int8Array | Uint8Array, m: number, ldx: number, xZeroPoints: Int32Array | null, bias: Int32Array | null, multM: Int32Array, multS: Int32Array, outZeroPoint: number, y: Int8Array, ldy: number): void;
  linearInt(w: NativeWeights, packed: NativePacked | null, x: Int8Array | Uint8Array, m: number, ldx: number, xZeroPoints: Int32Array | null, bias: Int32Array | null, multM: Int32Array, multS: Int32Array, outZeroPoint: number, y: Int8Array, ldy: number): Promise<void>;
  packWeightsSync(w: NativeWeights): NativePacked;
  packWeights(w: NativeWeights): Promise<NativePacked>;
  /** Releases packed memory now (a running job keeps its own reference until it settles). */
  freePacked(p: NativePacked): void;
  /** Bytes held by a packed handle; 0 once freed. */
  packedBytes(p: NativePacked): number;
  matmulInfo(): NativeMatmulInfo;
  matmulTolerance(nb: number, s: number): number;

  ternaryQuantizeSync(dtype: number, x: Float32Array, n: number, k: number, dst: Uint8Array): void;
  ternaryQuantize(dtype: number, x: Float32Array, n: number, k: number, dst: Uint8Array): Promise<void>;
  ternaryDequantizeSync(dtype: number, src: Uint8Array, n: number, k: number, y: Float32Array): void;
  ternaryDequantize(dtype: number, src: Uint8Array, n: number, k: number, y: Float32Array): Promise<void>;
  /** family: 0 = mad, 1 = lut. */
  ternaryPackSync(dtype: number, data: Uint8Array, n: number, k: number, family: 0 | 1): NativeTernaryPacked;
  ternaryPack(dtype: number, data: Uint8Array, n: number, k: number, family: 0 | 1): Promise<NativeTernaryPacked>;
  freeTernaryPacked(p: NativeTernaryPacked): void;
  ternaryPackedBytes(p: NativeTernaryPacked): number;
  /** family: 0 = mad, 1 = lut, 2 = auto; returns the family that ran. */
  ternaryMatmulSync(mad: NativeTernaryPacked | null, lut: NativeTernaryPacked | null, x: Float32Array, m: number, ldx: number, y: Float32Array, family: 0 | 1 | 2, tuneCache: string | null): 'mad' | 'lut';
  ternaryMatmul(mad: NativeTernaryPacked | null, lut: NativeTernaryPacked | null, x: Float32Array, m: number, ldx: number, y: Float32Array, family: 0 | 1 | 2, tuneCache: string | null): Promise<'mad' | 'lut'>;
  ternaryTuneLookup(n: number, k: number, m: number): 'mad' | 'lut' | null;
  ternaryTuneLoad(path: string): void;
  ternaryTuneClear(): void;
  ternaryKernels(): { activations: string; mad: string; lut: string; lutBuild: string };
  dyadicFromScale(x: number): { m: number; s: number };
  requantizeSync(x: Int32Array, m: Int32Array, s: Int32Array, zeroPoint: number, out: string, y: ArrayBufferView): void;
  requantize(x: Int32Array, m: Int32Array, s: Int32Array, zeroPoint: number, out: string, y: ArrayBufferView): Promise<void>;
  dyadicPrepare(op: string, config: Record<string, unknown>): NativeDyadicParams;
  dyadicParamsInfo(p: NativeDyadicParams): Record<string, unknown>;
  dyadicApplySync(p: NativeDyadicParams, x: ArrayBufferView, b: ArrayBufferView | null, y: ArrayBufferView, rows: number): void;
  dyadicApply(p: NativeDyadicParams, x: ArrayBufferView, b: ArrayBufferView | null, y: ArrayBufferView, rows: number): Promise<void>;
  dyadicFloatSync(op: string, x: Float32Array, b: Float32Array | null, y: Float32Array, cols: number): void;

  measureReadBandwidth(bytes: number, threads: number, reps: number): Promise<NativeMeasure>;
  measureI8Peak(threads: number, seconds: number, reps: number): Promise<NativeMeasure>;
  measureF32Peak(threads: number, seconds: number, reps: number): Promise<NativeMeasure>;
}

/** The package root (lib/ and dist/ both sit one level below it). */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function load(): NativeBinding {
  const require = createRequire(import.meta.url);
  // For the sanitizer run and other special builds: an explicit path to a bitflash.node.
  const explicit = process.env.BITFLASH_NATIVE_PATH;
  if (explicit) return require(explicit) as NativeBinding;
  const gypBuild = require('node-gyp-build') as (dir: string) => unknown;
  try {
    return gypBuild(packageRoot) as NativeBinding;
  } catch (e) {
    const libc = glibcOrMusl();
    throw new BitflashLoadError(
      `bitflash: no native binary fits this machine (${process.platform}-${process.arch}, ${libc}, Node ${process.versions.node}, N-API ${process.versions.napi}).\n` +
        `Prebuilt binaries ship for linux-x64 and linux-arm64 (glibc). To build from source you need cmake (>= 3.18) and a C++17 compiler:\n` +
        `  cd ${packageRoot} && npm install --include=dev --ignore-scripts && npx cmake-js compile\n` +
        `Cause: ${(e as Error).message.split('\n')[0]}`,
      { cause: e },
    );
  }
}

function glibcOrMusl(): string {
  const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
  return header?.glibcVersionRuntime ? `glibc ${header.glibcVersionRuntime}` : 'musl or other libc';
}

export const native: NativeBinding = load();
