/**
 * RAM budget under a hard memory cgroup (issue 9, item 6): `bitflash run <flash model> --ram X`
 * inside a memory cgroup whose limit is the Node baseline plus X, at X = 30%, 50% and 100% of the
 * model file, with the page cache charged to the cgroup (the file's cache is dropped first, so what
 * the run reads is charged to it). Each run must exit 0 with no OOM kill and print the same greedy
 * tokens as an unlimited run; the peak usage is reported. A negative control (the 30% run under a
 * quarter of its budget) must be OOM-killed, so a limit that does nothing cannot pass.
 *
 * The limit: a Node process running the CLI holds ~50-60 MB of its own (V8 heap, code, the addon)
 * before any model memory, and the cgroup charges all of it. The budget (--ram) covers what the
 * model holds (resident weights, KV cache, scratch, I/O buffers, neuron cache); so the limit is
 * baseline + budget, where the baseline is the peak of the same CLI running the shipped 1 MB model
 * for one token in a cgroup of its own (Node, the addon, the CLI, a minimal model).
 *
 * Needs root and a memory cgroup (v1: /sys/fs/cgroup/memory; v2: the memory controller in
 * /sys/fs/cgroup), written directly through cgroupfs (no cgroup-tools); skips with the reason otherwise.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { writeSynthModel } from './synth-model.js';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const tiny = fileURLToPath(new URL('../../models/stories260K.gguf', import.meta.url));

type Cg = { kind: 'v1' | 'v2'; parent: string };

function findCgroup(): Cg | string {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root (creating a memory cgroup needs root)';
  const self = existsSync('/proc/self/cgroup') ? readFileSync('/proc/self/cgroup', 'utf8').split('\n') : [];
  const v1 = '/sys/fs/cgroup/memory';
  if (existsSync(path.join(v1, 'memory.limit_in_bytes'))) {
    // nest under our own memory cgroup when we can (its limits keep applying), else under the root
    const mine = self.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l))?.split(':')[2] ?? '/';
    for (const p of [path.join(v1, mine), v1]) {
      try {
        const probe = path.join(p, `bitflash-probe-${process.pid}`);
        mkdirSync(probe);
        rmdirSync(probe);
        return { kind: 'v1', parent: p };
      } catch { /* try the next */ }
    }
    return 'cannot create a cgroup under /sys/fs/cgroup/memory (read-only?)';
  }
  const v2 = '/sys/fs/cgroup';
  if (existsSync(path.join(v2, 'cgroup.controllers')) && readFileSync(path.join(v2, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory')) {
    try {
      if (!readFileSync(path.join(v2, 'cgroup.subtree_control'), 'utf8').split(/\s+/).includes('memory')) writeFileSync(path.join(v2, 'cgroup.subtree_control'), '+memory');
      const probe = path.join(v2, `bitflash-probe-${process.pid}`);
      mkdirSync(probe);
      const ok = existsSync(path.join(probe, 'memory.max'));
      const peak = existsSync(path.join(probe, 'memory.peak'));
      rmdirSync(probe);
      if (ok && !peak) return 'cgroup v2 without memory.peak (kernel older than 5.19): no peak usage to report';
      if (ok) return { kind: 'v2', parent: v2 };
    } catch { /* fall through */ }
    return 'cgroup v2 without a usable memory controller at /sys/fs/cgroup';
  }
  return 'no memory cgroup controller (neither /sys/fs/cgroup/memory nor cgroup v2 memory)';
}

interface RunResult { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; peak: number; oomKills: number; failcnt: number; limit: number; maxRss: number }

// The child reports its own peak RSS on exit (anonymous + mapped file pages, including node's own
// binary, which is shared and charged to whoever first read it, so it can exceed the cgroup's figure).
const REPORT_RSS = `data:text/javascript,process.on('exit',()=>process.stderr.write('\\nbf-maxrss='+process.resourceUsage().maxRSS*1024+'\\n'))`;

/** Runs `node cli ...args` alone in a fresh memory cgroup limited to `limit` bytes (0 = no limit). */
function runInCgroup(cg: Cg, limit: number, args: string[]): RunResult {
  const dir = path.join(cg.parent, `bitflash-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir);
  const w = (f: string, v: string) => writeFileSync(path.join(dir, f), v);
  const r = (f: string) => readFileSync(path.join(dir, f), 'utf8');
  try {
    if (cg.kind === 'v1') {
      if (limit) w('memory.limit_in_bytes', String(limit));
      // no swap escape: the limit must hold for RAM, and a run that needs more must show up as OOM
      if (limit && existsSync(path.join(dir, 'memory.memsw.limit_in_bytes'))) w('memory.memsw.limit_in_bytes', String(limit));
      w('memory.swappiness', '0');
    } else {
      if (limit) w('memory.max', String(limit));
      if (existsSync(path.join(dir, 'memory.swap.max'))) w('memory.swap.max', '0');
    }
    // the shell joins the cgroup, then becomes node: every byte the CLI touches is charged there
    const p = spawnSync('/bin/sh', ['-c', 'echo $$ > "$BF_CGROUP_PROCS" && exec "$@"', 'sh', process.execPath, '--import', REPORT_RSS, cli, ...args], {
      encoding: 'utf8',
      env: { ...process.env, BF_CGROUP_PROCS: path.join(dir, 'cgroup.procs') },
      timeout: 120_000,
    });
    let peak: number, oomKills: number, failcnt: number;
    if (cg.kind === 'v1') {
      peak = Number(r('memory.max_usage_in_bytes'));
      failcnt = Number(r('memory.failcnt'));
      oomKills = Number(/oom_kill (\d+)/.exec(r('memory.oom_control'))?.[1] ?? 0);
    } else {
      peak = Number(r('memory.peak'));
      const ev = r('memory.events');
      failcnt = Number(/\bmax (\d+)/.exec(ev)?.[1] ?? 0);
      oomKills = Number(/oom_kill (\d+)/.exec(ev)?.[1] ?? 0);
    }
    const maxRss = Number(/bf-maxrss=(\d+)/.exec(p.stderr)?.[1] ?? NaN);
    return { status: p.status, signal: p.signal, stdout: p.stdout, stderr: p.stderr, peak, oomKills, failcnt, limit, maxRss };
  } finally {
    // the child has exited: the cgroup is empty and can go (v1 may need a moment to uncharge)
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(dir);
        break;
      } catch {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }
    }
  }
}

/** Drops the page cache of one file (GNU dd: posix_fadvise DONTNEED), so its next reads are charged to the reader. */
function dropFileCache(file: string): void {
  execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
}

const MiB = 2 ** 20;
const cg = findCgroup();
const reason = !existsSync(cli) ? 'dist/ is not built (npx tsc -p tsconfig.json)'
  // ASan's shadow memory and quarantine are not the product's memory: a sanitized run would be OOM-killed by design
  : process.env.BITFLASH_EXPECT_SANITIZED === '1' ? 'a sanitizer build (its memory is not the product\'s)'
  : typeof cg === 'string' ? cg : '';
if (reason) console.warn(`cgroup-budget.test: SKIPPED: ${reason}`);

// /var/tmp: a disk (O_DIRECT reads bypass the page cache; os.tmpdir() may be tmpfs, which is RAM
// charged to whoever wrote it)
const work = mkdtempSync(path.join(existsSync('/var/tmp') ? '/var/tmp' : os.tmpdir(), 'bitflash-cgroup-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const GEN = ['-n', '12', '-p', 'a b c', '--temp', '0', '--ctx', '64', '-t', '2'];

describe.skipIf(reason !== '')('RAM budget inside a memory cgroup (issue 9, item 6)', () => {
  const c = cg as Cg;
  let baseline = 0;
  const report: string[] = [];
  afterAll(() => {
    if (report.length) console.log(`cgroup-budget (${c.kind}, ${os.cpus()[0]?.model ?? '?'}, ${new Date().toISOString().slice(0, 10)}):\n${report.join('\n')}`);
  });

  it('measures the baseline: the CLI running the shipped 1 MB model for one token', () => {
    const b = runInCgroup(c, 0, ['run', tiny, '-n', '1', '-p', 'a', '--temp', '0', '--ctx', '64', '-t', '2']);
    expect(b.status, b.stderr).toBe(0);
    baseline = b.peak;
    expect(baseline).toBeGreaterThan(10 * MiB);
    report.push(`  baseline (node + addon + CLI + 1 MB model): peak ${(baseline / MiB).toFixed(1)} MiB`);
  });

  const models: [string, () => string][] = [
    ['the shipped stories260K (flash layout, f32 rows)', () => {
      const out = path.join(work, 'stories-flash.gguf');
      execFileSync(process.execPath, [cli, 'convert', tiny, out, '--flash', '--type', 'f32']);
      return out;
    }],
    ['a synthetic 12-layer model written by our writer (flash layout, f32 rows)', () => {
      const src = path.join(work, 'synth.gguf'), out = path.join(work, 'synth-flash.gguf');
      writeSynthModel(src, { nEmbd: 256, nFf: 2048, nLayers: 12, nVocab: 512, type: 'q8_0', seed: 9 });
      execFileSync(process.execPath, [cli, 'convert', src, out, '--flash', '--type', 'f32']);
      rmSync(src);
      return out;
    }],
  ];
  for (const [what, make] of models) {
    it(`${what}: budgets of 30%, 50% and 100% of the file never OOM-kill, and give the unlimited run's tokens`, () => {
      expect(baseline).toBeGreaterThan(0);
      const file = make();
      const size = statSync(file).size;
      const free = spawnSync(process.execPath, [cli, 'run', file, ...GEN], { encoding: 'utf8' });
      expect(free.status, free.stderr).toBe(0);
      report.push(`  ${path.basename(file)} (${(size / MiB).toFixed(1)} MiB):`);
      const budgets: [string, number][] = [0.3, 0.5, 1.0].map((f) => [`${Math.round(f * 100)}%`, Math.floor(f * size)]);
      let ran = 0;
      for (let i = 0; i < budgets.length; i++) {
        const [label, budget] = budgets[i]!;
        dropFileCache(file);
        const res = runInCgroup(c, baseline + budget, ['run', file, '--ram', String(budget), ...GEN]);
        const refused = res.status === 1 && /ram budget .* is too small/.test(res.stderr);
        const line = `    --ram ${label} = ${(budget / MiB).toFixed(2)} MiB, limit ${((baseline + budget) / MiB).toFixed(1)} MiB: ` +
          (refused ? `refused by the planner (ERR_BITFLASH_BUDGET: ${/needs [\d.]+ \w+/.exec(res.stderr)?.[0] ?? '?'})` : `exit ${res.status}${res.signal ? ` (${res.signal})` : ''}`) +
          `, cgroup peak ${(res.peak / MiB).toFixed(1)} MiB (${((100 * res.peak) / res.limit).toFixed(0)}% of the limit), process max RSS ${(res.maxRss / MiB).toFixed(1)} MiB, ` +
          `oom kills ${res.oomKills}, memory.failcnt ${res.failcnt}`;
        report.push(line);
        expect(res.oomKills, line).toBe(0);
        expect(res.signal, `${line}\n${res.stderr}`).toBeNull();
        expect(res.peak).toBeLessThanOrEqual(res.limit);
        if (refused) {
          // a budget below the plan's minimum is a typed refusal before anything is loaded (the shipped
          // 4 MB flash file needs ~3 MiB: its I/O buffers alone are 1.2 MiB); the minimum is run next
          const needs = /needs ([\d.]+) MiB/.exec(res.stderr);
          expect(needs, res.stderr).not.toBeNull();
          const min = Math.ceil(Number(needs![1]) * MiB) + 64 * 1024;
          expect(min).toBeGreaterThan(budget);
          if (!budgets.some(([l]) => l.startsWith('minimum'))) budgets.splice(i + 1, 0, [`minimum (${(min / size * 100).toFixed(0)}%)`, min]);
          continue;
        }
        expect(res.status, `${line}\n${res.stderr}`).toBe(0);
        expect(res.stdout).toBe(free.stdout);
        ran++;
      }
      expect(ran).toBeGreaterThanOrEqual(2);
      if (size > 32 * MiB) {
        // negative control: the cgroup really limits. The 30% run squeezed under a quarter of its
        // budget is killed by the OOM killer (so the runs above held their budget, not a no-op limit)
        const budget = Math.floor(0.3 * size);
        dropFileCache(file);
        const res = runInCgroup(c, baseline + Math.floor(budget / 4), ['run', file, '--ram', String(budget), ...GEN]);
        report.push(`    control: --ram 30% under a limit of baseline + 1/4 of it (${((baseline + budget / 4) / MiB).toFixed(1)} MiB): ` +
          `exit ${res.status}${res.signal ? ` (${res.signal})` : ''}, oom kills ${res.oomKills}`);
        expect(res.oomKills).toBeGreaterThan(0);
        expect(res.status).not.toBe(0);
      }
    }, 300_000);
  }
});
