import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = new URL('../../dist/cli/main.js', import.meta.url).pathname; // built by tsc before the suite

describe('bitflash bench ternary', () => {
  it('--quick --json measures mad, lut, auto, q4_0 and q8_0 with roofline ratios and writes the JSON', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bf-tern-'));
    try {
      const file = path.join(dir, 'r.json');
      const out = JSON.parse(
        execFileSync(process.execPath, [cli, 'bench', 'ternary', '--quick', '--json', '--threads', '1', '--out', file], { encoding: 'utf8', timeout: 60_000 }),
      );
      expect(JSON.parse(readFileSync(file, 'utf8')).rows).toHaveLength(out.rows.length);
      const variants = new Set(out.rows.map((r: { variant: string }) => r.variant));
      expect([...variants].sort()).toEqual(['q4_0', 'q8_0', 'tq2_0 auto', 'tq2_0 lut', 'tq2_0 mad']);
      for (const r of out.rows) {
        expect(r.medianMs).toBeGreaterThan(0);
        expect(r.weightGBs).toBeGreaterThan(0);
        expect(Number.isFinite(r.ofDram) && r.ofDram > 0).toBe(true);
        expect(Number.isFinite(r.ofInt8Peak) && r.ofInt8Peak > 0).toBe(true);
      }
      const gemv = out.rows.filter((r: { m: number; variant: string }) => r.m === 1 && r.variant === 'tq2_0 mad');
      expect(gemv[0].copies).toBeGreaterThan(2); // rotated over copies
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
