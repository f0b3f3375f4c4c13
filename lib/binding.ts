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

export interface NativeBinding {
  cpuFeatures(): NativeCpuFeatures;
  getIsa(): { cap: string; active: string };
  setIsaCap(isa: string): { cap: string; active: string };
  kernelChoices(): { op: string; kernel: string; isa: string }[];
  setThreads(n: number): number;
  getThreads(): number;
  physicalCores(): number;
  dtypeTable(): { id: number; name: string; blockElems: number; blockBytes: number }[];
  readonly sanitized: boolean;

  quantizeQ8_0Sync(src: Float32Array, dst: Uint8Array): void;
  quantizeQ8_0(src: Float32Array, dst: Uint8Array): Promise<void>;
  dequantizeQ8_0Sync(src: Uint8Array, dst: Float32Array): void;
  dequantizeQ8_0(src: Uint8Array, dst: Float32Array): Promise<void>;

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
