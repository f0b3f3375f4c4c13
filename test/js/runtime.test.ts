import { describe, expect, it } from 'vitest';
import { cpuFeatures, getThreads, kernelChoices, physicalCores, setIsa, setThreads, ISAS } from '../../lib/index.js';
import { native } from '../../lib/binding.js';

describe('CPU features and the ISA cap', () => {
  const f = cpuFeatures();

  it('reports the architecture, flags and the paths this CPU runs', () => {
    expect(['x64', 'arm64']).toContain(f.arch);
    expect(f.arch).toBe(process.arch);
    expect(f.paths[0]).toBe('scalar');
    expect(f.paths).toContain(f.best);
    for (const p of f.paths) expect(ISAS).toContain(p);
    if (f.arch === 'x64') {
      expect(f.paths.includes('avx2')).toBe(f.flags.avx2 === true && f.flags.fma === true && f.flags.f16c === true);
      if (f.flags.avx512vnni) expect(f.flags.avx512f).toBe(true);
    }
  });

  // The qemu runs set BITFLASH_EXPECT_ISA to the path the emulated CPU must select: scalar under
  // qemu-x86_64 -cpu Nehalem (cpuid shows no AVX); neon, dotprod, i8mm under qemu-aarch64 -cpu
  // cortex-a53, cortex-a76, max (scripts/test-arm64-js.sh, which also sets BITFLASH_EXPECT_ARCH=arm64).
  it.runIf(process.env.BITFLASH_EXPECT_ISA)('chooses the path the environment expects', () => {
    const want = process.env.BITFLASH_EXPECT_ISA as (typeof f.paths)[number];
    expect(f.best).toBe(want);
    expect(f.active).toBe(want);
    // every op runs that path or, where it has no kernel for it, a lower one of the same CPU (so all
    // scalar when scalar is expected)
    for (const k of kernelChoices()) {
      expect(f.paths.indexOf(k.isa), `${k.op}: ${k.kernel}`).toBeGreaterThanOrEqual(0);
      expect(f.paths.indexOf(k.isa), `${k.op}: ${k.kernel}`).toBeLessThanOrEqual(f.paths.indexOf(want));
    }
  });

  it.runIf(process.env.BITFLASH_EXPECT_ARCH)('runs the addon of the expected architecture', () => {
    expect(process.arch).toBe(process.env.BITFLASH_EXPECT_ARCH);
    expect(f.arch).toBe(process.env.BITFLASH_EXPECT_ARCH);
  });

  it.runIf(process.env.BITFLASH_EXPECT_SANITIZED)('runs the sanitizer build', () => {
    expect(native.sanitized).toBe(true);
  });

  it('setIsa caps every op and restores', () => {
    const cap = f.cap;
    try {
      for (const p of f.paths) {
        expect(setIsa(p)).toBe(p);
        for (const k of kernelChoices()) {
          // no op may run a path above the cap; ops without a kernel for p fall back below it
          expect(f.paths.indexOf(k.isa)).toBeLessThanOrEqual(f.paths.indexOf(p));
        }
      }
      expect(setIsa('scalar')).toBe('scalar');
      expect(kernelChoices().every((k) => k.kernel.endsWith('__ref'))).toBe(true);
    } finally {
      setIsa(cap);
    }
    expect(() => setIsa('sse9' as 'avx2')).toThrow(RangeError);
    expect(() => setIsa(3 as unknown as 'avx2')).toThrow(TypeError);
  });
});

describe('threads', () => {
  it('defaults to the physical cores and can be changed', () => {
    const def = getThreads();
    expect(physicalCores()).toBeGreaterThanOrEqual(1);
    try {
      expect(setThreads(3)).toBe(3);
      expect(getThreads()).toBe(3);
      expect(setThreads(0)).toBe(process.env.BITFLASH_THREADS ? Number(process.env.BITFLASH_THREADS) : physicalCores());
    } finally {
      setThreads(def);
    }
    expect(() => setThreads(-1)).toThrow(RangeError);
    expect(() => setThreads(1.5)).toThrow(RangeError);
    expect(() => setThreads('2' as unknown as number)).toThrow(TypeError);
  });
});

describe('thread pool idles without spinning', () => {
  it('uses (almost) no CPU while idle after a parallel job', async () => {
    const def = getThreads();
    try {
      setThreads(Math.max(2, def));
      await native.measureI8Peak(getThreads(), 0.02, 1); // wakes every worker
      await new Promise((r) => setTimeout(r, 50));
      const before = process.cpuUsage();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 500));
      const wall = performance.now() - t0;
      const used = process.cpuUsage(before);
      const cpuMs = (used.user + used.system) / 1000;
      // A spinning worker would burn ~wall ms of CPU per thread; sleeping ones burn ~0.
      expect(cpuMs).toBeLessThan(wall * 0.2);
    } finally {
      setThreads(def);
    }
  });
});
