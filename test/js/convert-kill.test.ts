/**
 * `bitflash convert` is atomic (issue 9, item 3): killed with SIGKILL at a random moment, it leaves
 * either no output or the complete one, never a partial file at the output path. Each case spawns
 * the CLI, kills it after a random delay (half the runs: from the spawn, over the unkilled run's
 * duration; the other half: from the moment its temporary file appears, over the write), and checks
 * the output path: absent, or a GGUF that parses, whose every tensor reads back in full, and whose bytes equal
 * an unkilled conversion's. A kill mid-write leaves the writer's temporary file (`.<name>.tmp-<pid>`)
 * behind; the next convert to the same output removes it, which is checked at the end.
 *
 * Cases: the shipped stories260K to q8_0, and a larger synthetic model written by our writer to q4_0
 * and to the flash layout (`convert --flash`), so that most kills land while the file is being written.
 * BITFLASH_KILL_RUNS sets the kills per case (default 8; the README's figures used more).
 */
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readGGUF, readTensorData } from '../../lib/model/gguf.js';
import { rng } from './helpers.js';
import { writeSynthModel } from './synth-model.js';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const tiny = fileURLToPath(new URL('../../models/stories260K.gguf', import.meta.url));
const RUNS = Math.max(1, Number(process.env.BITFLASH_KILL_RUNS ?? 8));
const work = mkdtempSync(path.join(existsSync('/var/tmp') ? '/var/tmp' : os.tmpdir(), 'bitflash-kill-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const temps = (out: string) => readdirSync(path.dirname(out)).filter((n) => n.startsWith(`.${path.basename(out)}.tmp-`));

interface Ended { code: number | null; signal: NodeJS.Signals | null; ms: number; stderr: string; tempAtMs: number | undefined }

/**
 * Runs the CLI. kill.afterMs: SIGKILL that long after the spawn; kill.afterTempMs: SIGKILL that long
 * after the writer's temporary file appears (a kill mid-write). Also notes when the temp file appeared.
 */
function convert(args: string[], kill: { afterMs?: number; afterTempMs?: number } = {}): Promise<Ended> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [cli, 'convert', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    const out = args[1]!;
    const tmp = path.join(path.dirname(out), `.${path.basename(out)}.tmp-${p.pid}`);
    let stderr = '';
    let tempAtMs: number | undefined;
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = kill.afterMs === undefined ? undefined : setTimeout(() => p.kill('SIGKILL'), kill.afterMs);
    const poll = setInterval(() => {
      if (tempAtMs !== undefined || !existsSync(tmp)) return;
      tempAtMs = performance.now() - t0;
      if (kill.afterTempMs !== undefined) setTimeout(() => p.kill('SIGKILL'), kill.afterTempMs);
    }, 1);
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearInterval(poll);
      resolve({ code, signal, ms: performance.now() - t0, stderr, tempAtMs });
    });
  });
}

/** The output opens and validates fully: header parses, every tensor reads back with its size, same bytes as the reference. */
function validate(out: string, refSha: string): void {
  const f = readGGUF(out);
  expect(f.tensors.length).toBeGreaterThan(0);
  for (const t of f.tensors) expect(readTensorData(f, t).byteLength).toBe(t.bytes);
  expect(sha(out)).toBe(refSha);
}

const report: string[] = [];
afterAll(() => {
  if (report.length) console.log(`convert-kill (${RUNS} kills per case, ${os.cpus()[0]?.model ?? '?'}, ${new Date().toISOString().slice(0, 10)}):\n${report.join('\n')}`);
});

describe.runIf(existsSync(cli))('bitflash convert killed with SIGKILL leaves no output or a complete one', () => {
  let synth = '';
  const cases: [string, () => string, string[]][] = [
    ['stories260K -> q8_0', () => tiny, ['--type', 'q8_0']],
    ['synthetic 8-layer q8_0 model -> q4_0', () => synth, ['--type', 'q4_0']],
    ['synthetic 8-layer q8_0 model -> convert --flash (f32 rows)', () => synth, ['--flash', '--type', 'f32']],
  ];
  it.each(cases)('%s', async (name, input, flags) => {
    if (!synth) {
      synth = path.join(work, 'synth-src.gguf');
      writeSynthModel(synth, { nEmbd: 256, nFf: 1024, nLayers: 8, nVocab: 512, type: 'q8_0', seed: 3 });
    }
    const out = path.join(work, `${name.replace(/[^a-z0-9]+/gi, '_')}.gguf`);
    const args = [input(), out, ...flags];
    // the reference: an unkilled run (also times the conversion)
    const ref = await convert(args);
    expect(ref.code, ref.stderr).toBe(0);
    const refSha = sha(out);
    validate(out, refSha);
    const r = rng(0xc0ffee ^ name.length);
    // the write window of the unkilled run (from the temp file's appearance to the exit)
    const writeMs = ref.tempAtMs !== undefined ? ref.ms - ref.tempAtMs : ref.ms;
    let absent = 0, complete = 0, leftTemp = 0, killed = 0;
    for (let i = 0; i < RUNS; i++) {
      rmSync(out, { force: true });
      // even runs: a random moment of the whole run (startup, reading, writing, after the rename);
      // odd runs: a random moment after the temporary file appeared (mid-write, or just after)
      const res = await convert(args, i % 2 === 0 ? { afterMs: r() * ref.ms } : { afterTempMs: r() * writeMs });
      if (res.signal === 'SIGKILL') killed++;
      else expect(res.code, res.stderr).toBe(0); // it finished before the kill
      if (existsSync(out)) {
        validate(out, refSha);
        complete++;
      } else {
        absent++;
      }
      const left = temps(out);
      // only the killed writer's file can be there, and only when the kill landed mid-write
      expect(left.length).toBeLessThanOrEqual(1);
      if (left.length) {
        expect(res.signal).toBe('SIGKILL');
        leftTemp++;
      }
    }
    // a later convert to the same output cleans up what killed writers left
    rmSync(out, { force: true });
    const last = await convert(args);
    expect(last.code, last.stderr).toBe(0);
    validate(out, refSha);
    expect(temps(out)).toEqual([]);
    report.push(`  ${name}: unkilled run ${ref.ms.toFixed(0)} ms; ${RUNS} runs, ${killed} killed: ${absent} no output, ${complete} complete and valid, 0 partial; ${leftTemp} kills mid-write left a temp file, removed by the next convert`);
    expect(absent + complete).toBe(RUNS);
    // the larger model: the kill must land mid-write in some runs, or the test proves little
    if (name.startsWith('synthetic') && RUNS >= 4) expect(leftTemp).toBeGreaterThan(0);
  }, 600_000);

  it('a stale temporary file of a live writer is left alone', () => {
    // our own pid is alive: its temp name must survive another writer's cleanup
    const out = path.join(work, 'live.gguf');
    const mine = path.join(work, `.live.gguf.tmp-${process.ppid}`);
    execFileSync('touch', [mine]);
    execFileSync(process.execPath, [cli, 'convert', tiny, out, '--type', 'q8_0']);
    expect(existsSync(mine)).toBe(true);
    expect(temps(out)).toEqual([path.basename(mine)]);
    rmSync(mine);
  });
});
