/**
 * Leaks, short form (issue 9): scripts/leak-check.mjs in its own process (so other test files running in
 * this one do not move its RSS), with fewer calls than the long form (10,000 per entry point, the README
 * figures) and the same check: after warm-up, the RSS grows by less than 5 % over the calls of each
 * public entry point, with a full GC forced between rounds.
 *
 * Skipped under the sanitizers (ASan's quarantine holds freed memory on purpose; LeakSanitizer is the
 * check there) and under qemu (the RSS would be the emulator's).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const skip = !!process.env.BITFLASH_EXPECT_SANITIZED || !!process.env.BITFLASH_EXPECT_ISA || !existsSync(`${root}dist/index.js`);

interface Row {
  name: string;
  calls: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  growthPct: number;
  ok: boolean;
}

describe('leaks (short form)', () => {
  it.skipIf(skip)('every public entry point: RSS grows < 5 % after warm-up over its calls, GC forced between rounds', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', 'scripts/leak-check.mjs', '--calls', '400', '--rounds', '4', '--scaled', '--json'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    });
    const rows: Row[] = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Row);
    expect(rows.length, r.stderr).toBeGreaterThanOrEqual(20);
    for (const row of rows) {
      expect(row.calls, row.name).toBeGreaterThanOrEqual(4);
      expect(row.growthPct, `${row.name}: ${row.rssBeforeMiB.toFixed(1)} -> ${row.rssAfterMiB.toFixed(1)} MiB`).toBeLessThan(5);
    }
    expect(r.status, r.stderr).toBe(0);
  }, 150_000);
});
