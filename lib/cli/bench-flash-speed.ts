/**
 * `bitflash bench flash --speed`: decode speed of a model larger than its RAM budget (issue 8,
 * item 6). For each budget (a fraction of the model file), each method runs in a child process
 * placed in a fresh cgroup v1 memory cgroup whose limit is the budget: the limit covers the
 * process and the page cache it causes, so mmap cannot cheat with the host's free RAM. Before each
 * run the model files' page cache is dropped (dd iflag=nocache count=0: posix_fadvise DONTNEED on
 * the whole file). Methods, in the same run:
 *   resident  every weight read into memory (only where the planner says it fits the budget)
 *   mmap      the weights mapped from the file; the OS pages them in and out
 *   layers    naive per-layer loading: each layer's weights read with buffered pread when the
 *             layer runs, into one buffer the next layer overwrites
 *   bitflash  the flash layout under ramBudget = limit - reserve (Node's own memory): resident
 *             attention/gate where they fit (the rest streamed with next-group prefetch), FFN
 *             neurons over the |silu(gate)| threshold read as bundles with O_DIRECT
 * Recorded per run: median decode ms per token of `tokens` greedy steps after `warmup` steps,
 * bytes read from storage per token (/proc/<pid>/io read_bytes), the cgroup's peak usage
 * (memory.max_usage_in_bytes: RSS + page cache), failcnt and OOM kills, the flash telemetry.
 * fio measures the disk in the same run: O_DIRECT random reads at the bundle read size with as
 * many jobs as the bundle reader pool has threads (psync, queue depth 1 each, as the pool), and at
 * the dense stream's read size.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../binding.js';
import { BitflashUnsupportedError } from '../errors.js';
import { flashInfo } from '../model/flash-layout.js';
import { readGGUF } from '../model/gguf.js';
import { FLASH_READERS, STREAM_MAX_READ, STREAM_READERS } from '../memory/planner.js';
import type { SpeedChildArgs, SpeedChildResult, SpeedMethod } from './bench-flash-child.js';
import { pickFlashTuning, type FlashTuningOptions } from '../model/flash-tuning.js';

export interface BitflashVariant extends FlashTuningOptions {
  name: string;
  density: number;
}

export interface SpeedOptions {
  model: string;
  flash: string;
  budgets?: number[];
  methods?: SpeedMethod[];
  variants?: BitflashVariant[];
  tokens?: number;
  warmup?: number;
  nCtx?: number;
  /** Bytes of the limit left to Node itself (heap, code, the tokenizer): ramBudget = limit - reserve. */
  reserve?: number;
  calibrationText?: string;
  cgroupRoot?: string;
  timeoutS?: number;
  fio?: boolean;
  /** Also run `resident` with no limit (the ceiling). */
  unlimitedResident?: boolean;
  log?: (s: string) => void;
}

export interface SpeedRow {
  method: SpeedMethod;
  variant?: string;
  budgetFraction: number | null;
  limitBytes: number | null;
  ok: boolean;
  error?: string;
  oomKilled: boolean;
  exit: string;
  tokensPerSecond?: number;
  medianTokenMs?: number;
  tokenMs?: number[];
  tokenIds?: number[];
  storageReadBytesPerToken?: number;
  cgroupPeakBytes?: number;
  cgroupFailcnt?: number;
  cgroupOomKills?: number;
  maxRssBytes?: number;
  loadMs?: number;
  flash?: Record<string, number>;
  flashPerToken?: Record<string, number>;
  plan?: SpeedChildResult['plan'];
  wallS: number;
}

export interface FioResult {
  blockSize: number;
  jobs: number;
  ioDepth: number;
  bandwidthBytesPerS: number;
  iops: number;
}

export interface SpeedReport {
  date: string;
  machine: { cpu: string; cores: number; memBytes: number; disk: string; kernel: string; loadAvgStart: number[]; loadAvgEnd: number[] };
  model: { file: string; bytes: number; flashFile: string; flashBytes: number; bundleBytes: number; readBytes: number; rowType: string };
  settings: { tokens: number; warmup: number; nCtx: number; reserve: number; thresholds?: number[]; densityCalibrationTokens: string };
  fio: FioResult[];
  rows: SpeedRow[];
  summary: {
    budget: number;
    method: string;
    tokensPerSecond: number | null;
    vsMmap: number | null;
    vsLayers: number | null;
    /** Bundle reads: bytes over the wall time with a bundle read in flight, and the mean read size after coalescing. */
    readMBps: number | null;
    meanReadBytes: number | null;
    readers: number;
    /** fio at the bundle size (8 KiB-ish) and at the mean coalesced read size, with as many jobs as readers. */
    fioBundleMBps: number | null;
    fioMeanReadMBps: number | null;
    readVsFio: number | null;
  }[];
}

const childJs = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bench-flash-child.js');

function tryRead(f: string): string | undefined {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return undefined;
  }
}

function dropCache(file: string): void {
  spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
}

function diskOf(file: string): string {
  const r = spawnSync('df', ['--output=source', file], { encoding: 'utf8' });
  const dev = (r.stdout ?? '').trim().split('\n').pop() ?? '?';
  const name = path.basename(dev);
  const rot = tryRead(`/sys/block/${name.replace(/\d+$/, '')}/queue/rotational`)?.trim();
  const model = tryRead(`/sys/block/${name.replace(/\d+$/, '')}/device/model`)?.trim();
  return `${dev}${model ? ` (${model})` : ''}${rot !== undefined ? rot === '0' ? ', non-rotational' : ', rotational' : ''}`;
}

export function runFio(file: string, bs: number, jobs: number, runtimeS = 4): FioResult | undefined {
  const r = spawnSync('fio', [
    '--name=bitflash', `--filename=${file}`, '--readonly', '--rw=randread', '--direct=1', '--ioengine=psync', `--bs=${bs}`,
    `--numjobs=${jobs}`, '--iodepth=1', '--time_based', `--runtime=${runtimeS}`, '--group_reporting', '--output-format=json', '--randrepeat=0',
  ], { encoding: 'utf8', timeout: (runtimeS + 30) * 1000 });
  if (r.status !== 0) return undefined;
  try {
    const j = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { jobs: { read: { bw_bytes: number; iops: number } }[] };
    const rd = j.jobs[0]!.read;
    return { blockSize: bs, jobs, ioDepth: 1, bandwidthBytesPerS: rd.bw_bytes, iops: rd.iops };
  } catch {
    return undefined;
  }
}

function runChild(args: SpeedChildArgs, cg: string | undefined, limit: number | null, timeoutS: number): { res: SpeedChildResult | undefined; exit: string; peak?: number; failcnt?: number; oomKills?: number; wallS: number; killed: boolean } {
  let dir: string | undefined;
  if (cg) {
    dir = path.join(cg, `bitflash-bench-${process.pid}-${Date.now()}`);
    mkdirSync(dir);
    if (limit !== null) writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(limit));
  }
  const t0 = performance.now();
  const cmd = dir ? `echo $$ > '${dir}/cgroup.procs' && exec "$0" "$1"` : 'exec "$0" "$1"';
  const r = spawnSync('sh', ['-c', cmd, process.execPath, childJs], {
    encoding: 'utf8', timeout: timeoutS * 1000, env: { ...process.env, BITFLASH_BENCH_ARGS: JSON.stringify(args) }, maxBuffer: 64 << 20,
  });
  const wallS = (performance.now() - t0) / 1000;
  let peak: number | undefined, failcnt: number | undefined, oomKills: number | undefined;
  if (dir) {
    peak = Number(tryRead(path.join(dir, 'memory.max_usage_in_bytes')));
    failcnt = Number(tryRead(path.join(dir, 'memory.failcnt')));
    const oc = tryRead(path.join(dir, 'memory.oom_control')) ?? '';
    const m = /oom_kill (\d+)/.exec(oc);
    oomKills = m ? Number(m[1]) : undefined;
    try {
      writeFileSync(path.join(dir, 'memory.force_empty'), '0');
    } catch {
      // nothing charged
    }
    try {
      rmdirSync(dir);
    } catch {
      // leave it (a straggler): named by pid and time
    }
  }
  const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  let res: SpeedChildResult | undefined;
  try {
    res = JSON.parse(line) as SpeedChildResult;
  } catch {
    res = undefined;
  }
  const exit = r.signal ? `signal ${r.signal}` : r.error ? String(r.error.message) : `exit ${String(r.status)}`;
  return { res, exit, ...(peak !== undefined ? { peak } : {}), ...(failcnt !== undefined ? { failcnt } : {}), ...(oomKills !== undefined ? { oomKills } : {}), wallS, killed: r.signal === 'SIGKILL' };
}

export async function benchFlashSpeed(o: SpeedOptions): Promise<SpeedReport> {
  const log = o.log ?? (() => {});
  const budgets = o.budgets ?? [1, 0.5, 0.3];
  const methods = o.methods ?? ['resident', 'mmap', 'layers', 'bitflash'];
  const variants = o.variants ?? [{ name: 'density 0.3', density: 0.3 }];
  const tokens = o.tokens ?? 4, warmup = o.warmup ?? 1, nCtx = o.nCtx ?? 32;
  const reserve = o.reserve ?? 256 << 20;
  const timeoutS = o.timeoutS ?? 600;
  const cgRoot = o.cgroupRoot ?? '/sys/fs/cgroup/memory';
  if (!existsSync(path.join(cgRoot, 'cgroup.procs'))) throw new BitflashUnsupportedError(`bench flash --speed needs a cgroup v1 memory hierarchy at ${cgRoot} (and root)`);
  const modelBytes = statSync(o.model).size, flashBytes = statSync(o.flash).size;
  const fi = flashInfo(readGGUF(o.flash));
  if (!fi) throw new RangeError(`${o.flash} is not a flash-layout model (bitflash convert --flash)`);
  const base = { model: o.model, flash: o.flash, tokens, warmup, nCtx };
  const loadAvgStart = os.loadavg();

  // thresholds once per density (calibration runs the model densely: outside the timed runs)
  const thresholds = new Map<number, number[]>();
  const calText = o.calibrationText ?? 'Once upon a time';
  for (const v of variants) {
    if (v.density >= 1 || thresholds.has(v.density) || !methods.includes('bitflash')) continue;
    // cached beside the flash file, keyed by its size and mtime, the density and the text
    const st = statSync(o.flash);
    const key = JSON.stringify({ size: st.size, mtime: st.mtimeMs, density: v.density, text: calText });
    const cacheFile = `${o.flash}.thresholds.json`;
    let cached: Record<string, number[]> = {};
    try {
      cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, number[]>;
    } catch {
      cached = {};
    }
    if (cached[key]) {
      log(`thresholds for density ${v.density} from ${cacheFile}`);
      thresholds.set(v.density, cached[key]!);
      continue;
    }
    log(`calibrating thresholds for density ${v.density} on ${JSON.stringify(calText)}`);
    const c = runChild({ ...base, method: 'bitflash', calibrate: true, density: v.density, calibrationText: calText }, undefined, null, timeoutS);
    if (!c.res?.ok || !c.res.thresholds) throw new Error(`calibration failed: ${c.res?.error?.message ?? c.exit}`);
    thresholds.set(v.density, c.res.thresholds);
    cached[key] = c.res.thresholds;
    try {
      writeFileSync(cacheFile, JSON.stringify(cached));
    } catch {
      // read-only folder: calibrate again next time
    }
  }

  const fio: FioResult[] = [];
  if (o.fio !== false) {
    for (const [bs, jobs] of [[fi.upDownBytes, FLASH_READERS], [128 << 10, FLASH_READERS], [STREAM_MAX_READ, STREAM_READERS]] as const) {
      log(`fio: O_DIRECT random reads of ${bs} bytes, ${jobs} jobs`);
      const f = runFio(o.flash, bs, jobs);
      if (f) fio.push(f);
    }
  }

  const rows: SpeedRow[] = [];
  const run = (method: SpeedMethod, frac: number | null, v?: BitflashVariant) => {
    const limit = frac === null ? null : Math.floor(frac * modelBytes);
    const args: SpeedChildArgs = { ...base, method };
    if (method === 'resident' && limit !== null) args.ramBudget = limit - reserve;
    if (method === 'bitflash' && v) {
      args.density = v.density;
      if (limit !== null) args.ramBudget = limit - reserve;
      const th = thresholds.get(v.density);
      if (th) args.thresholds = th;
      Object.assign(args, pickFlashTuning(v));
    }
    dropCache(o.model);
    dropCache(o.flash);
    const label = `${method}${v ? ` (${v.name})` : ''} at ${frac === null ? 'no limit' : `${Math.round(frac * 100)}% (${(limit! / 2 ** 30).toFixed(2)} GiB)`}`;
    log(`${label}: running`);
    const c = runChild(args, cgRoot, limit, timeoutS);
    const r = c.res;
    const row: SpeedRow = {
      method, ...(v ? { variant: v.name } : {}), budgetFraction: frac, limitBytes: limit, ok: !!r?.ok, oomKilled: c.killed && (c.oomKills ?? 1) > 0, exit: c.exit,
      ...(r && !r.ok && r.error ? { error: `${r.error.code ? `${r.error.code}: ` : ''}${r.error.message}` } : {}),
      ...(!r ? { error: `no result (${c.exit})` } : {}),
      ...(r?.tokensPerSecond !== undefined ? { tokensPerSecond: r.tokensPerSecond, medianTokenMs: r.medianTokenMs!, tokenMs: r.tokenMs!, ...(r.tokenIds ? { tokenIds: r.tokenIds } : {}), storageReadBytesPerToken: r.storageReadBytesPerToken!, loadMs: r.loadMs!, maxRssBytes: r.maxRssBytes! } : {}),
      ...(c.peak !== undefined ? { cgroupPeakBytes: c.peak } : {}), ...(c.failcnt !== undefined ? { cgroupFailcnt: c.failcnt } : {}), ...(c.oomKills !== undefined ? { cgroupOomKills: c.oomKills } : {}),
      ...(r?.flash ? { flash: r.flash } : {}), ...(r?.flashPerToken ? { flashPerToken: r.flashPerToken } : {}), ...(r?.plan ? { plan: r.plan } : {}),
      wallS: c.wallS,
    };
    rows.push(row);
    log(`${label}: ${row.ok ? `${row.tokensPerSecond!.toFixed(3)} tokens/s, ${((row.storageReadBytesPerToken ?? 0) / 2 ** 20).toFixed(0)} MiB read/token, peak ${((row.cgroupPeakBytes ?? 0) / 2 ** 30).toFixed(2)} GiB` : row.error ?? row.exit}${row.oomKilled ? ' (OOM kill)' : ''}`);
  };
  if (o.unlimitedResident !== false && methods.includes('resident')) run('resident', null);
  for (const frac of budgets) {
    for (const m of methods) {
      if (m === 'bitflash') for (const v of variants) run(m, frac, v);
      else run(m, frac);
    }
  }

  const cpu = os.cpus()[0]?.model ?? 'unknown';
  const date = new Date().toISOString();
  const summary: SpeedReport['summary'] = [];
  const fioAt = (bs: number, jobs: number): FioResult | undefined => {
    let f = fio.find((x) => x.blockSize === bs && x.jobs === jobs);
    if (!f && o.fio !== false) {
      log(`fio: O_DIRECT random reads of ${bs} bytes, ${jobs} jobs`);
      f = runFio(o.flash, bs, jobs);
      if (f) fio.push(f);
    }
    return f;
  };
  for (const frac of budgets) {
    const at = rows.filter((r) => r.budgetFraction === frac);
    const tps = (m: string) => at.find((r) => r.method === m && r.ok)?.tokensPerSecond ?? null;
    for (const r of at) {
      if (r.method !== 'bitflash') continue;
      const t = r.ok ? r.tokensPerSecond! : null;
      const mm = tps('mmap'), ly = tps('layers');
      const f = r.flash;
      const v = variants.find((x) => x.name === r.variant);
      const readers = v?.flashReaders ?? FLASH_READERS;
      // Achieved bundle bandwidth: bytes over the wall time with a bundle read in flight.
      const readMBps = f && f.bundleIoWallMs! > 0 ? f.bundleBytesRead! / (f.bundleIoWallMs! / 1000) / 1e6 : null;
      const meanRead = f && f.bundleReads! > 0 ? f.bundleBytesRead! / f.bundleReads! : null;
      const fb = fioAt(fi.upDownBytes, readers);
      const fm = meanRead !== null ? fioAt(Math.max(4096, Math.round(meanRead / 4096) * 4096), readers) : undefined;
      const fioMeanReadMBps = fm ? fm.bandwidthBytesPerS / 1e6 : null;
      summary.push({
        budget: frac, method: `bitflash (${r.variant})`, tokensPerSecond: t,
        vsMmap: t !== null && mm ? t / mm : null, vsLayers: t !== null && ly ? t / ly : null,
        readMBps, meanReadBytes: meanRead, readers, fioBundleMBps: fb ? fb.bandwidthBytesPerS / 1e6 : null, fioMeanReadMBps,
        readVsFio: readMBps !== null && fioMeanReadMBps ? readMBps / fioMeanReadMBps : null,
      });
    }
  }
  return {
    date,
    machine: { cpu, cores: os.cpus().length, memBytes: os.totalmem(), disk: diskOf(o.flash), kernel: os.release(), loadAvgStart, loadAvgEnd: os.loadavg() },
    model: { file: path.basename(o.model), bytes: modelBytes, flashFile: path.basename(o.flash), flashBytes, bundleBytes: fi.bundleBytes, readBytes: fi.upDownBytes, rowType: fi.rowType },
    settings: { tokens, warmup, nCtx, reserve, densityCalibrationTokens: calText, ...(thresholds.size ? { thresholds: [...thresholds.values()][0]! } : {}) },
    fio,
    rows,
    summary,
  };
}

const GiB = 2 ** 30;

export function formatFlashSpeed(r: SpeedReport): string {
  const lines: string[] = [];
  lines.push(`model ${r.model.file} (${(r.model.bytes / GiB).toFixed(2)} GiB; flash layout ${(r.model.flashBytes / GiB).toFixed(2)} GiB, ${r.model.rowType} bundles of ${r.model.bundleBytes} bytes, ${r.model.readBytes} read per neuron)`);
  lines.push(`${r.machine.cpu}, ${r.machine.cores} cores (load average ${r.machine.loadAvgStart[0]!.toFixed(1)} at start, ${r.machine.loadAvgEnd[0]!.toFixed(1)} at end), ${(r.machine.memBytes / GiB).toFixed(0)} GiB RAM, disk ${r.machine.disk}; ${r.settings.tokens} tokens after ${r.settings.warmup} warm-up, medians`);
  lines.push('');
  lines.push('| budget (cgroup limit) | method | decode tokens/s | ms/token | read from storage / token | cgroup peak | OOM kills |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const x of r.rows) {
    const b = x.budgetFraction === null ? 'no limit' : `${Math.round(x.budgetFraction * 100)}% (${(x.limitBytes! / GiB).toFixed(2)} GiB)`;
    const m = `${x.method}${x.variant ? ` (${x.variant})` : ''}`;
    if (!x.ok) {
      lines.push(`| ${b} | ${m} | ${x.oomKilled ? 'OOM-killed' : x.error?.startsWith('ERR_BITFLASH_BUDGET') ? 'does not fit (planner)' : 'failed'} | - | - | ${x.cgroupPeakBytes ? `${(x.cgroupPeakBytes / GiB).toFixed(2)} GiB` : '-'} | ${x.cgroupOomKills ?? '-'} |`);
      continue;
    }
    lines.push(`| ${b} | ${m} | ${x.tokensPerSecond!.toFixed(3)} | ${x.medianTokenMs!.toFixed(0)} | ${(x.storageReadBytesPerToken! / 2 ** 20).toFixed(0)} MiB | ${x.cgroupPeakBytes ? `${(x.cgroupPeakBytes / GiB).toFixed(2)} GiB` : '-'} | ${x.cgroupOomKills ?? '-'} |`);
  }
  if (r.fio.length) {
    lines.push('');
    lines.push('| fio O_DIRECT random read | jobs x depth | MB/s |');
    lines.push('|---|---|---|');
    for (const f of r.fio) lines.push(`| ${f.blockSize >= 1 << 20 ? `${f.blockSize >> 20} MiB` : `${f.blockSize >> 10} KiB`} | ${f.jobs} x ${f.ioDepth} | ${(f.bandwidthBytesPerS / 1e6).toFixed(0)} |`);
  }
  if (r.summary.length) {
    lines.push('');
    lines.push('| budget | bitflash | tokens/s | vs mmap | vs naive per-layer | bundle reads MB/s (mean read) | fio, bundle size | fio, mean read size | reads / fio at mean read |');
    lines.push('|---|---|---|---|---|---|---|---|---|');
    const f = (v: number | null, d = 2) => (v === null ? '-' : v.toFixed(d));
    for (const s of r.summary) lines.push(`| ${Math.round(s.budget * 100)}% | ${s.method} | ${f(s.tokensPerSecond, 3)} | ${f(s.vsMmap)}x | ${f(s.vsLayers)}x | ${f(s.readMBps, 0)} (${s.meanReadBytes === null ? '-' : `${(s.meanReadBytes / 1024).toFixed(1)} KiB`}) | ${f(s.fioBundleMBps, 0)} | ${f(s.fioMeanReadMBps, 0)} | ${s.readVsFio === null ? '-' : `${(100 * s.readVsFio).toFixed(0)}%`} |`);
  }
  return lines.join('\n');
}

/** tokens/s against budget, one line per method (log scale), as standalone SVG. */
export function flashSpeedSvg(r: SpeedReport): string {
  const W = 640, H = 400, L = 70, R = 180, T = 40, B = 50;
  const series = new Map<string, { x: number; y: number }[]>();
  for (const x of r.rows) {
    if (!x.ok || x.budgetFraction === null) continue;
    const k = `${x.method}${x.variant ? ` (${x.variant})` : ''}`;
    if (!series.has(k)) series.set(k, []);
    series.get(k)!.push({ x: x.budgetFraction, y: x.tokensPerSecond! });
  }
  const ys = [...series.values()].flat().map((p) => p.y);
  const lo = Math.floor(Math.log10(Math.min(...ys, 1))), hi = Math.ceil(Math.log10(Math.max(...ys, 1)));
  const xs = [...new Set(r.rows.filter((x) => x.budgetFraction !== null).map((x) => x.budgetFraction!))].sort((a, b) => a - b);
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  const px = (v: number) => L + ((v - x0) / Math.max(1e-9, x1 - x0)) * (W - L - R);
  const py = (v: number) => T + (1 - (Math.log10(v) - lo) / Math.max(1, hi - lo)) * (H - T - B);
  const colors = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${L}" y="20" font-size="14">Decode tokens/s vs RAM budget (cgroup limit, % of ${(r.model.bytes / GiB).toFixed(2)} GiB model)</text>`);
  for (let e = lo; e <= hi; e++) {
    const y = py(10 ** e);
    out.push(`<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#ddd"/><text x="${L - 8}" y="${y + 4}" text-anchor="end">${10 ** e >= 1 ? 10 ** e : (10 ** e).toFixed(-e)}</text>`);
  }
  for (const v of xs) out.push(`<line x1="${px(v)}" y1="${T}" x2="${px(v)}" y2="${H - B}" stroke="#eee"/><text x="${px(v)}" y="${H - B + 18}" text-anchor="middle">${Math.round(v * 100)}%</text>`);
  out.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">RAM budget (% of the model file)</text>`);
  out.push(`<text x="18" y="${(T + H - B) / 2}" transform="rotate(-90 18 ${(T + H - B) / 2})" text-anchor="middle">tokens/s (log)</text>`);
  let i = 0;
  for (const [name, pts] of series) {
    const c = colors[i % colors.length]!;
    const sorted = [...pts].sort((a, b) => a.x - b.x);
    out.push(`<path d="${sorted.map((p, j) => `${j ? 'L' : 'M'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')}" fill="none" stroke="${c}" stroke-width="2"/>`);
    for (const p of sorted) out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3.5" fill="${c}"/>`);
    const ly = T + 10 + i * 20;
    out.push(`<line x1="${W - R + 12}" y1="${ly}" x2="${W - R + 32}" y2="${ly}" stroke="${c}" stroke-width="2"/><text x="${W - R + 38}" y="${ly + 4}">${name.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</text>`);
    i++;
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

export function writeFlashSpeed(r: SpeedReport, dir = path.join(packageRoot, 'bench', 'results')): { json: string; svg: string } {
  mkdirSync(dir, { recursive: true });
  const json = path.join(dir, `flash-speed-${r.date.slice(0, 10)}.json`);
  const svg = path.join(dir, 'flash-speed.svg');
  writeFileSync(json, JSON.stringify(r, null, 2) + '\n');
  writeFileSync(svg, flashSpeedSvg(r));
  return { json, svg };
}
