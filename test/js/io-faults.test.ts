/**
 * I/O fault injection (issue 9, item 3), through the test-only seam of lib/fileio.ts (TS reads and
 * writes) and the native reader pool's fault hook (flash-layout weights read during generation).
 *
 * The contract these tests pin down:
 *  - EIO, an unexpected end of file (a truncated model) and ENOSPC reject the current call (the
 *    generate() iterator's next(), loadModel, convert) with a BitflashIOError (ERR_BITFLASH_IO)
 *    naming the file; EINTR and short reads/writes are retried transparently (same tokens, same bytes).
 *  - A failed generation step frees what it held: the neuron-cache slots of the failed read are
 *    dropped (never served later as hits), no file descriptor or native buffer is left behind.
 *  - The model stays usable: once the fault is gone, the next generate() gives exactly the tokens
 *    of an unfaulted run (it restarts from position 0, so no half-written KV entry is ever read).
 *  - A model file replaced by rename while a model runs is not a fault: the model keeps reading the
 *    file it opened (the old inode stays intact); load the path again to use the new file.
 *  - A dense (non-flash) model reads all its weights at load: faults hit loadModel; truncating or
 *    replacing its file afterwards cannot affect it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BitflashIOError } from '../../lib/errors.js';
import { armFaults, clearFaults, faultInjectionEnabled, faultStats, type FaultRule } from '../../lib/fileio.js';
import { convertFlash } from '../../lib/model/flash-layout.js';
import { readGGUF, readTensorData } from '../../lib/model/gguf.js';
import { convertGGUF } from '../../lib/model/gguf-write.js';
import { loadModel, type Model } from '../../lib/model/model.js';

process.env.BITFLASH_FAULT_INJECTION = '1';

const tiny = fileURLToPath(new URL('../../models/stories260K.gguf', import.meta.url));
const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
// open descriptors of this process; in a worker thread (vitest --pool=threads) other test files share
// the process, so the count is not ours alone and the checks are left out there
const fds = () => (isMainThread ? readdirSync('/proc/self/fd').length : 0);
const isIo = (text?: RegExp) => expect.objectContaining({ code: 'ERR_BITFLASH_IO', name: 'BitflashIOError', ...(text ? { message: expect.stringMatching(text) } : {}) });

// a disk (O_DIRECT reads) and a RAM filesystem (O_DIRECT refused: the buffered fallback)
const disk = mkdtempSync(path.join(existsSync('/var/tmp') ? '/var/tmp' : os.tmpdir(), 'bitflash-faults-'));
const ramDir = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/bitflash-faults-') : mkdtempSync(path.join(os.tmpdir(), 'bitflash-faults-'));
afterAll(() => {
  clearFaults();
  rmSync(disk, { recursive: true, force: true });
  rmSync(ramDir, { recursive: true, force: true });
});
afterEach(() => clearFaults());

const counts = { injected: 0, steps: 0 };
afterAll(() => {
  const s = faultStats();
  console.log(`io-faults: ${s.native.injected} native + ${s.ts.injected} TS faults injected (${counts.steps} failed steps or calls checked for a typed error and recovery)`);
});

async function greedy(m: Model, n = 24): Promise<number[]> {
  const ids: number[] = [];
  for await (const t of m.generate('', { temperature: 0, repeatPenalty: 1, maxTokens: n })) ids.push(t.id);
  return ids;
}

/** Consumes `before` tokens, arms the rules, then expects the next step to reject with ERR_BITFLASH_IO. */
async function failMidGeneration(m: Model, before: number, rules: FaultRule[], text?: RegExp): Promise<void> {
  const it = m.generate('', { temperature: 0, repeatPenalty: 1, maxTokens: 64 });
  for (let i = 0; i < before; i++) expect((await it.next()).done).toBe(false);
  armFaults(rules);
  await expect(it.next()).rejects.toThrow(isIo(text));
  clearFaults();
  counts.steps++;
  // the iterator is finished; the model is free for the next call
  expect((await it.next()).done).toBe(true);
}

let REF: number[] = [];
const flashFiles: string[] = [];

beforeAll(() => {
  expect(faultInjectionEnabled()).toBe(true);
  for (const d of [disk, ramDir]) {
    const f = path.join(d, 'tiny-flash.gguf');
    convertFlash(readGGUF(tiny), f, { rowType: 'f32' });
    flashFiles.push(f);
  }
});

describe('the fault seam', () => {
  it('cannot be armed without BITFLASH_FAULT_INJECTION=1, and a child process ignores BITFLASH_FAULTS without it', () => {
    delete process.env.BITFLASH_FAULT_INJECTION;
    try {
      expect(faultInjectionEnabled()).toBe(false);
      expect(() => armFaults([{ errno: 'EIO' }])).toThrow(expect.objectContaining({ code: 'ERR_BITFLASH_UNSUPPORTED' }));
    } finally {
      process.env.BITFLASH_FAULT_INJECTION = '1';
    }
    // BITFLASH_NO_SUBPROCESS: process.execPath can't be spawned (scripts/test-arm64-js.sh)
    if (!existsSync(cli) || process.env.BITFLASH_NO_SUBPROCESS) return;
    const out = path.join(disk, 'inert.gguf');
    const env: NodeJS.ProcessEnv = { ...process.env, BITFLASH_FAULTS: JSON.stringify([{ op: 'any', errno: 'EIO' }]) };
    delete env.BITFLASH_FAULT_INJECTION;
    const r = spawnSync(process.execPath, [cli, 'convert', tiny, out, '--type', 'q8_0'], { encoding: 'utf8', env });
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(out)).toBe(true);
  });

  it('rejects bad rules', () => {
    expect(() => armFaults([{ errno: 'ENOTANERRNO' }])).toThrow(RangeError);
    expect(() => armFaults([{ op: 'seek' as never }])).toThrow(RangeError);
  });
});

describe.each([['disk (O_DIRECT)', 0], ['RAM filesystem (buffered)', 1]] as const)('flash path on %s: faults during generation', (_where, idx) => {
  const file = () => flashFiles[idx]!;
  beforeAll(async () => {
    using dense = await loadModel(tiny, { nCtx: 64 });
    REF = await greedy(dense);
  });

  it('the unfaulted run gives the dense model\'s tokens (the reference)', async () => {
    using m = await loadModel(file(), { nCtx: 64, ramBudget: '4M' });
    expect(await greedy(m)).toEqual(REF);
  });

  it('EIO on a bundle read: the step rejects with ERR_BITFLASH_IO, the model stays usable, nothing held grows', async () => {
    using m = await loadModel(file(), { nCtx: 64, ramBudget: '4M' });
    const held = m.nativeBytes, fd0 = fds();
    for (const before of [0, 1, 3, 7]) {
      await failMidGeneration(m, before, [{ op: 'read', path: file(), errno: 'EIO', count: 1 }], /Input\/output error/);
      const s = m.flashStats()!;
      expect(s.cacheResidentBytes).toBeLessThanOrEqual(s.cacheArenaBytes);
      expect(m.nativeBytes).toBe(held);
      expect(fds()).toBe(fd0);
      // no half-filled slot survives: the next run is exact
      expect(await greedy(m)).toEqual(REF);
    }
  });

  it('a fault on the Nth read, for N across the prompt and decode steps', async () => {
    using m = await loadModel(file(), { nCtx: 64, ramBudget: '4M' });
    for (const n of [0, 1, 2, 5, 13, 40, 120]) {
      armFaults([{ op: 'read', path: file(), errno: 'EIO', after: n, count: 1 }]);
      let failed = false;
      try {
        await greedy(m);
      } catch (e) {
        expect(e).toBeInstanceOf(BitflashIOError);
        failed = true;
        counts.steps++;
      }
      clearFaults();
      expect(failed).toBe(true);
      expect(await greedy(m)).toEqual(REF);
    }
  });

  it('end of file (a read returning 0) is ERR_BITFLASH_IO, not garbage', async () => {
    using m = await loadModel(file(), { nCtx: 64, ramBudget: '4M' });
    await failMidGeneration(m, 2, [{ op: 'read', path: file(), maxBytes: 0, count: 1 }], /unexpected end of file/);
    expect(await greedy(m)).toEqual(REF);
  });

  it('EINTR and short reads on every read are retried transparently: same tokens', async () => {
    using m = await loadModel(file(), { nCtx: 64, ramBudget: '4M' });
    const before = faultStats().native.injected;
    armFaults([
      { op: 'read', path: file(), errno: 'EINTR', count: 500 },
      { op: 'read', path: file(), maxBytes: 4096 + 512, count: 2000 },
    ]);
    expect(await greedy(m)).toEqual(REF);
    clearFaults();
    expect(faultStats().native.injected - before).toBeGreaterThan(100);
  });

  it('the file truncated between two steps: the next step rejects; restored, the model works again', async () => {
    const copy = path.join(path.dirname(file()), 'trunc.gguf');
    copyFileSync(file(), copy);
    const bytes = readFileSync(copy);
    using m = await loadModel(copy, { nCtx: 64, ramBudget: '4M' });
    const it = m.generate('', { temperature: 0, repeatPenalty: 1, maxTokens: 64 });
    for (let i = 0; i < 3; i++) await it.next();
    truncateSync(copy, Math.floor(bytes.length / 3));
    await expect(it.next()).rejects.toThrow(isIo(/truncated/));
    counts.steps++;
    // the same inode gets its bytes back (the model holds that inode open)
    const fd = openSync(copy, 'r+');
    writeSync(fd, bytes, 0, bytes.length, 0);
    closeSync(fd);
    expect(await greedy(m)).toEqual(REF);
  });

  it('the file truncated while a step\'s reads are in flight (slowed reads)', async () => {
    const copy = path.join(path.dirname(file()), 'trunc-mid.gguf');
    copyFileSync(file(), copy);
    const bytes = readFileSync(copy);
    using m = await loadModel(copy, { nCtx: 64, ramBudget: '4M' });
    let hit = 0;
    for (let attempt = 0; attempt < 8 && hit === 0; attempt++) {
      const it = m.generate('', { temperature: 0, repeatPenalty: 1, maxTokens: 64 });
      await it.next();
      // every read of the step sleeps 10 ms first: the truncation lands while the step is running
      armFaults([{ op: 'read', path: copy, delayMs: 10 }]);
      const step = it.next();
      await new Promise((r) => setTimeout(r, 3 + attempt * 4));
      truncateSync(copy, 4096 * 8);
      try {
        await step;
        await it.return(undefined);
      } catch (e) {
        expect(e).toEqual(isIo());
        hit++;
        counts.steps++;
      }
      clearFaults();
      const fd = openSync(copy, 'r+');
      writeSync(fd, bytes, 0, bytes.length, 0);
      closeSync(fd);
    }
    expect(hit).toBe(1);
    expect(await greedy(m)).toEqual(REF);
  });

  it('the file replaced by rename while generating: the model keeps reading the file it opened', async () => {
    const copy = path.join(path.dirname(file()), 'replaced.gguf');
    copyFileSync(file(), copy);
    using m = await loadModel(copy, { nCtx: 64, ramBudget: '4M' });
    const ids: number[] = [];
    let replaced = false;
    for await (const t of m.generate('', { temperature: 0, repeatPenalty: 1, maxTokens: 24 })) {
      ids.push(t.id);
      if (ids.length === 4 && !replaced) {
        // another valid GGUF (the dense model) renamed over the path, as a re-convert would
        copyFileSync(tiny, `${copy}.new`);
        renameSync(`${copy}.new`, copy);
        replaced = true;
      }
    }
    expect(ids).toEqual(REF);
    expect(await greedy(m)).toEqual(REF);
    using fresh = await loadModel(copy, { nCtx: 64 });
    expect(fresh.isFlash).toBe(false);
  });
});

describe('dense path: weights read at load', () => {
  it('EIO while reading tensor data: loadModel rejects with ERR_BITFLASH_IO, closes its file; then loads', async () => {
    const fd0 = fds();
    for (const after of [0, 3, 20]) {
      armFaults([{ op: 'read', path: tiny, errno: 'EIO', after, count: 1 }]);
      await expect(loadModel(tiny, { nCtx: 64 })).rejects.toThrow(isIo(/EIO|Input\/output/));
      clearFaults();
      counts.steps++;
      expect(fds()).toBe(fd0);
    }
    using m = await loadModel(tiny, { nCtx: 64 });
    expect(await greedy(m)).toEqual(REF);
  });

  it('EINTR and short reads while loading are retried transparently', async () => {
    armFaults([
      { op: 'read', path: tiny, errno: 'EINTR', count: 50 },
      { op: 'read', path: tiny, maxBytes: 1000, count: 500 },
    ]);
    const s0 = faultStats().ts.injected;
    using m = await loadModel(tiny, { nCtx: 64 });
    clearFaults();
    expect(faultStats().ts.injected - s0).toBeGreaterThan(100);
    expect(await greedy(m)).toEqual(REF);
  });

  it('a file truncated after its header was read: reading a tensor is ERR_BITFLASH_IO; replaced: refused too', () => {
    const copy = path.join(disk, 'dense-trunc.gguf');
    copyFileSync(tiny, copy);
    const f = readGGUF(copy);
    truncateSync(copy, f.dataOffset + 100);
    expect(() => readTensorData(f, f.tensors[f.tensors.length - 1]!)).toThrow(isIo(/truncated/));
    copyFileSync(tiny, `${copy}.new`);
    renameSync(`${copy}.new`, copy);
    expect(() => readTensorData(f, f.tensors[0]!)).toThrow(isIo(/replaced/));
  });

  it('truncating or replacing the file of a loaded dense model does not affect its generation', async () => {
    const copy = path.join(disk, 'dense-live.gguf');
    copyFileSync(tiny, copy);
    using m = await loadModel(copy, { nCtx: 64 });
    const ids: number[] = [];
    for await (const t of m.generate('', { temperature: 0, repeatPenalty: 1, maxTokens: 24 })) {
      ids.push(t.id);
      if (ids.length === 3) truncateSync(copy, 100);
      if (ids.length === 6) renameSync(flashFiles[0]!, copy);
    }
    expect(ids).toEqual(REF);
    convertFlash(readGGUF(tiny), flashFiles[0]!, { rowType: 'f32' });
  });
});

describe('writer: ENOSPC, EIO, short writes (convert and the GGUF writer)', () => {
  const temps = (dir: string) => readdirSync(dir).filter((n) => n.includes('.tmp-'));
  let refBytes: Buffer;
  beforeAll(() => {
    const ref = path.join(disk, 'ref-q8.gguf');
    convertGGUF(readGGUF(tiny), ref, 'q8_0');
    refBytes = readFileSync(ref);
  });

  it('ENOSPC / EIO at every stage of the write: BitflashIOError, no output, no temp file, no fd left', () => {
    const out = path.join(disk, 'nospace.gguf');
    const src = readGGUF(tiny);
    const fd0 = fds();
    for (const errno of ['ENOSPC', 'EIO']) {
      for (const after of [0, 1, 2, 10, 30]) {
        armFaults([{ op: 'write', path: path.basename(out), errno, after, count: 1 }]);
        expect(() => convertGGUF(src, out, 'q8_0')).toThrow(isIo(errno === 'ENOSPC' ? /ENOSPC|No space/ : /EIO|Input\/output/));
        clearFaults();
        counts.steps++;
        expect(existsSync(out)).toBe(false);
        expect(temps(disk)).toEqual([]);
        expect(fds()).toBe(fd0);
      }
    }
    // the flash writer goes through the same writer
    armFaults([{ op: 'write', path: path.basename(out), errno: 'ENOSPC', after: 5, count: 1 }]);
    expect(() => convertFlash(src, out, { rowType: 'f32' })).toThrow(isIo(/ENOSPC|No space/));
    clearFaults();
    expect(existsSync(out)).toBe(false);
    expect(temps(disk)).toEqual([]);
  });

  it('short writes and EINTR are retried transparently: the same bytes as an unfaulted write', () => {
    const out = path.join(disk, 'short.gguf');
    armFaults([
      { op: 'write', path: path.basename(out), errno: 'EINTR', count: 20 },
      { op: 'write', path: path.basename(out), maxBytes: 777, count: 400 },
    ]);
    convertGGUF(readGGUF(tiny), out, 'q8_0');
    clearFaults();
    expect(readFileSync(out).equals(refBytes)).toBe(true);
  });

  it.runIf(existsSync(cli) && !process.env.BITFLASH_NO_SUBPROCESS)('bitflash convert (CLI) armed through BITFLASH_FAULTS: ENOSPC exits 1 with the error, no output', () => {
    const out = path.join(disk, 'cli-nospace.gguf');
    for (const flags of [['--type', 'q8_0'], ['--flash', '--type', 'f32']]) {
      const r = spawnSync(process.execPath, [cli, 'convert', tiny, out, ...flags], {
        encoding: 'utf8',
        env: { ...process.env, BITFLASH_FAULT_INJECTION: '1', BITFLASH_FAULTS: JSON.stringify([{ op: 'write', path: path.basename(out), errno: 'ENOSPC', after: 4, count: 1 }]) },
      });
      counts.steps++;
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/bitflash: .*cli-nospace\.gguf: write failed .*ENOSPC/);
      expect(existsSync(out)).toBe(false);
      expect(temps(disk)).toEqual([]);
    }
  });

  // A real full filesystem: a 256 KiB tmpfs (root only; skipped where mount is not allowed).
  const mnt = path.join(disk, 'small-fs');
  let mounted = false;
  beforeAll(() => {
    if (process.getuid?.() !== 0) return;
    try {
      mkdirSync(mnt);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt], { stdio: 'ignore' });
      mounted = true;
    } catch {
      console.warn('io-faults: cannot mount a small tmpfs here: the real-ENOSPC case is skipped');
    }
  });
  afterAll(() => {
    if (mounted) execFileSync('umount', [mnt]);
  });

  it('a real full filesystem (256 KiB tmpfs): convert and convert --flash fail with ENOSPC, leave nothing', (ctx) => {
    if (!mounted) ctx.skip();
    const out = path.join(mnt, 'model.gguf');
    expect(() => convertGGUF(readGGUF(tiny), out, 'q8_0')).toThrow(isIo(/ENOSPC|No space/));
    expect(() => convertFlash(readGGUF(tiny), out, { rowType: 'f32' })).toThrow(isIo(/ENOSPC|No space/));
    counts.steps += 2;
    expect(readdirSync(mnt)).toEqual([]);
  });
});
