import { describe, expect, it } from 'vitest';
import { measureRoofline, formatRoofline, BitflashError, getThreads } from '../../lib/index.js';
import { native } from '../../lib/binding.js';

describe('async calls run off the main thread', () => {
  it('the event loop keeps turning while a native job runs', async () => {
    let ticks = 0;
    let running = true;
    const spin = () => {
      ticks++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    const m = await native.measureI8Peak(1, 0.3, 1);
    running = false;
    expect(m.best).toBeGreaterThan(0);
    // If the job ran on the main thread, the loop could not turn until it ended: at most one
    // setImmediate callback would have run. Free, it turns thousands of times in ~0.3 s.
    expect(ticks).toBeGreaterThan(10);
  });

  it('native argument errors of async calls throw with a code', () => {
    expect(() => native.measureReadBandwidth(10, 1, 1)).toThrow(/1 MiB/);
    try {
      native.measureI8Peak(getThreads() + 1, 0.1, 1);
      expect.unreachable();
    } catch (e) {
      expect((e as { code: string }).code).toBe('ERR_BITFLASH_ARG');
    }
  });
});

describe('roofline', () => {
  it('measures every ceiling with a positive figure and formats a table', async () => {
    const r = await measureRoofline({ bytes: 16 * 2 ** 20, reps: 1, seconds: 0.01 });
    const kinds = new Set(r.rows.map((x) => x.ceiling));
    expect(kinds).toEqual(new Set(['dram-read', 'int8-peak', 'f32-peak']));
    for (const row of r.rows) {
      expect(row.best).toBeGreaterThan(0);
      expect(row.median).toBeLessThanOrEqual(row.best);
    }
    const table = formatRoofline(r);
    expect(table).toMatch(/DRAM read GB\/s/);
    expect(table.split('\n').length).toBe(2 + new Set(r.rows.map((x) => `${x.ceiling}|${x.isa}`)).size);
  });

  it('validates its options', async () => {
    await expect(measureRoofline({ reps: 0 })).rejects.toThrow(RangeError);
    await expect(measureRoofline({ threads: [getThreads() + 1] })).rejects.toThrow(RangeError);
    await expect(measureRoofline({ bytes: 1 })).rejects.not.toBeInstanceOf(BitflashError);
  });
});
