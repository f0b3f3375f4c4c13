/** Machine and runtime controls: CPU features, the ISA cap, the kernel chosen per op, threads. */
import { native } from './binding.js';
import { callSync } from './errors.js';
import { expectInt, expectOneOf } from './validate.js';

export const ISAS = ['scalar', 'avx2', 'avxvnni', 'avx512vnni', 'neon', 'dotprod', 'i8mm'] as const;
export type Isa = (typeof ISAS)[number];

export interface CpuFeatures {
  /** 'x64' | 'arm64' | ... */
  arch: string;
  /** Feature flags as detected (cpuid + XGETBV on x86, getauxval hwcaps on arm64). */
  flags: Record<string, boolean>;
  /** Every kernel path this CPU can run, lowest first. */
  paths: Isa[];
  /** The best path the CPU supports. */
  best: Isa;
  /** The cap in force (BITFLASH_ISA or setIsa) and the path it leaves active. */
  cap: Isa;
  active: Isa;
}

export function cpuFeatures(): CpuFeatures {
  const f = native.cpuFeatures();
  const isa = native.getIsa();
  return { arch: f.arch, flags: { ...f.flags }, paths: f.paths as Isa[], best: f.best as Isa, cap: isa.cap as Isa, active: isa.active as Isa };
}

/**
 * Caps the kernel paths to `isa` and below (as BITFLASH_ISA does at load). Returns the path now
 * active. A cap above what the CPU has is allowed: the CPU's best path stays the limit.
 */
export function setIsa(isa: Isa): Isa {
  expectOneOf('setIsa', 'isa', isa, ISAS);
  return callSync(() => native.setIsaCap(isa)).active as Isa;
}

export interface KernelChoice {
  op: string;
  kernel: string;
  isa: Isa;
}

/** The kernel each op runs now, given the CPU and the cap. */
export function kernelChoices(): KernelChoice[] {
  return native.kernelChoices() as KernelChoice[];
}

/** Sets the thread count of the pool (including the calling thread); 0 restores the default (physical cores). */
export function setThreads(n: number): number {
  expectInt('setThreads', 'n', n, 0, 1024);
  return callSync(() => native.setThreads(n));
}

export function getThreads(): number {
  return native.getThreads();
}

export function physicalCores(): number {
  return native.physicalCores();
}
