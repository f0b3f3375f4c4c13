import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

describe.runIf(existsSync(cli))('bitflash CLI (dist build)', () => {
  it('info --json reports version, CPU features, kernels and threads', () => {
    const out = JSON.parse(execFileSync(process.execPath, [cli, 'info', '--json'], { encoding: 'utf8' }));
    expect(out.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(out.cpu.paths).toContain('scalar');
    expect(out.kernels.length).toBeGreaterThan(0);
    expect(out.threads).toBeGreaterThanOrEqual(1);
  });

  it('info honours BITFLASH_ISA', () => {
    const out = JSON.parse(execFileSync(process.execPath, [cli, 'info', '--json'], { encoding: 'utf8', env: { ...process.env, BITFLASH_ISA: 'scalar' } }));
    expect(out.isa.active).toBe('scalar');
    expect(out.kernels.every((k: { isa: string }) => k.isa === 'scalar')).toBe(true);
  });

  it('bench roofline --quick --json prints every ceiling', () => {
    const out = JSON.parse(execFileSync(process.execPath, [cli, 'bench', 'roofline', '--quick', '--json', '--threads', '1'], { encoding: 'utf8' }));
    expect(out.rows.map((r: { ceiling: string }) => r.ceiling)).toEqual(expect.arrayContaining(['dram-read', 'int8-peak', 'f32-peak']));
  });

  it('bench matmul --quick --json measures bitflash and onnxruntime rows with roofline ratios', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'bf-')), 'm.json');
    const out = JSON.parse(execFileSync(process.execPath, [cli, 'bench', 'matmul', '--quick', '--json', '--threads', '1', '--dtypes', 'q4_0,i8c', '--out', file], { encoding: 'utf8' }));
    expect(JSON.parse(readFileSync(file, 'utf8')).rows.length).toBe(out.rows.length);
    expect(out.roofline.rows.map((r: { ceiling: string }) => r.ceiling)).toEqual(expect.arrayContaining(['dram-read', 'int8-peak']));
    const impls = new Set(out.rows.map((r: { impl: string }) => r.impl));
    expect(impls.has('bitflash')).toBe(true);
    for (const r of out.rows) {
      expect(r.medianMs).toBeGreaterThan(0);
      expect(r.gops).toBeCloseTo((2 * r.m * r.n * r.k) / (r.medianMs / 1e3) / 1e9, 6);
      expect(r.ofDram).toBeGreaterThan(0);
    }
    const bad = spawnSync(process.execPath, [cli, 'bench', 'matmul', '--quick', '--dtypes', 'q5_1'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--dtypes/);
  });

  it('bench dyadic --quick --json: accuracy, throughput vs f32 and onnxruntime, the integer block', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'bf-')), 'd.json');
    const out = JSON.parse(execFileSync(process.execPath, [cli, 'bench', 'dyadic', '--quick', '--json', '--out', file], { encoding: 'utf8' }));
    expect(JSON.parse(readFileSync(file, 'utf8')).accuracy.length).toBe(out.accuracy.length);
    expect(out.accuracy.map((a: { op: string }) => a.op)).toEqual(expect.arrayContaining(['requantize', 'addRescale', 'iGelu', 'shiftGelu', 'siluInt', 'layerNormInt', 'rmsNormInt']));
    for (const a of out.accuracy) expect(a.maxAbsErr).toBeGreaterThanOrEqual(a.meanAbsErr);
    if (out.throughput.length) {
      for (const t of out.throughput) {
        expect(t.intMEps).toBeGreaterThan(0);
        expect(t.vsF32).toBeCloseTo(t.intMEps / t.f32MEps, 6);
      }
    }
    expect(out.block.map((b: { source: string }) => b.source)).toEqual(['random', 'stories260K']);
    for (const b of out.block) expect(b.cosine).toBeGreaterThanOrEqual(0.99);
  });

  it('unknown commands and bad ISA names fail with a clear message and exit code', () => {
    const r = spawnSync(process.execPath, [cli, 'frobnicate'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command/);
    const bad = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8', env: { ...process.env, BITFLASH_ISA: 'sse9' } });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/BITFLASH_ISA/);
  });
});
