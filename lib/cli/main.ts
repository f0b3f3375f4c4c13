#!/usr/bin/env node
/** The `bitflash` command line. */
import { parseArgs } from 'node:util';
import { BitflashError } from '../errors.js';
import { cpuFeatures, getThreads, kernelChoices, physicalCores } from '../runtime.js';
import { formatRoofline, measureRoofline } from '../roofline.js';
import { version } from '../version.js';
import { native } from '../binding.js';
import { parseBytes, parseList } from './args.js';
import { convertCmd, modelInfoCmd, runCmd } from './model-cmds.js';
import { benchFlashQuality, formatFlashQuality } from './bench-flash.js';
import { benchFlashSpeed, formatFlashSpeed, writeFlashSpeed } from './bench-flash-speed.js';
import type { SpeedMethod } from './bench-flash-child.js';
import { LLAMA2_7B_SHAPE, writeRandomLlama } from '../model/random-llama.js';
import { convertFlash } from '../model/flash-layout.js';
import { readGGUF } from '../model/gguf.js';
import { benchMatmul, formatBenchMatmul, writeBenchMatmul } from './bench-matmul.js';
import { benchTernary, formatBenchTernary, writeBenchTernary } from './bench-ternary.js';
import { benchDyadic, formatBenchDyadic, writeBenchDyadic } from './bench-dyadic.js';
import type { MatmulDType } from '../tensor.js';

const HELP = `bitflash ${version}: low-bit inference kernels for Node.js

Usage:
  bitflash run [model.gguf] [-p PROMPT] [-n N] [--temp T] [--top-k K] [--top-p P] [--min-p P]
               [--repeat-penalty R] [--seed S] [--ctx N] [-t THREADS] [--kv-type f32|f16] [--ram 2G] [--density 0.3]
                                           generate text (no model: the bundled stories260K)
  bitflash info model.gguf [--ram 2G] [--json]
                                           architecture, dtypes per tensor, memory it needs, residency plan
  bitflash convert in.gguf out.gguf --type f16|q8_0|q4_0
                                           requantize a model (atomic write)
  bitflash convert in.gguf out.gguf --flash [--type q8_0]
                                           the flash layout: FFN neurons as 4 KiB-aligned bundles
  bitflash info [--json]                   version, CPU features, kernel path per op, threads
  bitflash bench roofline [options]        DRAM read bandwidth, int8 and fp32 peaks of this machine
      --threads 1,2    thread counts (default: 1 and all)
      --bytes 2G       read buffer size (default 2G)
      --reps 5         repetitions (best and median are printed)
      --quick          small buffer and short runs (a smoke test, not a measurement)
      --json           machine-readable output
  bitflash bench flash [--model m.gguf] [--json]    quality of each FFN density (dense vs sparse)
  bitflash bench flash --write-model /var/tmp/l7b.gguf
                                           a Llama-2-7B-shaped q4_0 model with random weights + its flash layout
  bitflash bench flash --speed --model m.gguf --flash m-flash.gguf [--budgets 1,0.5,0.3]
        [--methods resident,mmap,layers,bitflash] [--densities 0.3] [--tokens 4] [--warmup 1]
        [--reserve 256M] [--readers N] [--max-read 128K] [--max-gap 16K] [--no-prefetch] [--scalar-ffn] [--arena shared|per-layer]
        [--no-fio] [--out DIR]
                                           decode tokens/s under cgroup memory limits (root, cgroup v1)
                                           what each FFN density costs: top-1 agreement, KL, perplexity, bytes read
  bitflash bench matmul [options]          low-bit matmul: GEMV GB/s and GEMM GOPS, roofline ratios, onnxruntime peers
      --threads 1,2    thread counts (default: 1 and all)
      --dtypes q8_0,q4_0,i8c,i4g   weight formats (default: all four)
      --reps 5         timed passes (median reported; default 5, --quick 1)
      --quick          one small shape, m in {1, 8}, 1 pass (a smoke test, not a measurement)
      --json           print the JSON result instead of the table
      --out FILE       where to write the JSON (default bench/results/matmul-<date>.json)
  bitflash bench ternary [options]         ternary (tq2_0) matmul, mad / lut / auto, vs roofline and q4_0 / q8_0
      --threads 1,2    thread counts (default: 1 and all)
      --reps 5         timed passes (median reported; default 5, --quick 1)
      --quick          one shape, m in {1, 8}, 1 pass (a smoke test, not a measurement)
      --json           print the JSON result instead of the table
      --out FILE       where to write the JSON (default bench/results/ternary-<date>.json)
  bitflash bench dyadic [options]          integer-only (dyadic) ops: accuracy vs float64, throughput vs f32, the integer block
      --accuracy       only the accuracy table (max / mean abs error vs float64 over the int8 range)
      --throughput     only the throughput table (elements/s vs our f32 AVX2 ops and onnxruntime, one thread)
      --block          only the integer transformer block vs its float64 twin (cosine, max error)
                       (none of the three: all of them)
      --quick          smaller shapes and shorter runs (a smoke test, not a measurement)
      --json           print the JSON result instead of the tables
      --out FILE       where to write the JSON (default bench/results/dyadic-<date>.json)
  bitflash --version | --help

Environment: BITFLASH_ISA=scalar|avx2|avxvnni|avx512vnni|neon|dotprod|i8mm caps the kernel path;
BITFLASH_THREADS=n sets the default thread count.`;

async function info(json: boolean): Promise<void> {
  const f = cpuFeatures();
  const out = {
    version,
    node: process.versions.node,
    napi: process.versions.napi,
    arch: f.arch,
    cpu: { flags: Object.keys(f.flags).filter((k) => f.flags[k]), paths: f.paths, best: f.best },
    isa: { cap: f.cap, active: f.active },
    kernels: kernelChoices(),
    threads: getThreads(),
    physicalCores: physicalCores(),
    sanitized: native.sanitized,
  };
  if (json) {
    console.log(JSON.stringify(out, null, 2));
    return;
  }
  console.log(`bitflash ${out.version} (Node ${out.node}, N-API ${out.napi}, ${out.arch})`);
  console.log(`CPU features: ${out.cpu.flags.join(' ') || '(none detected)'}`);
  console.log(`Kernel paths this CPU runs: ${out.cpu.paths.join(', ')}; cap ${out.isa.cap}; active ${out.isa.active}`);
  console.log(`Threads: ${out.threads} (physical cores: ${out.physicalCores})`);
  console.log('Kernel per op:');
  for (const k of out.kernels) console.log(`  ${k.op.padEnd(24)} ${k.kernel} (${k.isa})`);
}

async function benchRoofline(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      threads: { type: 'string' },
      bytes: { type: 'string' },
      reps: { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const quick = values.quick === true;
  const r = await measureRoofline({
    bytes: values.bytes ? parseBytes(values.bytes) : quick ? 64 * 2 ** 20 : 2 ** 31,
    reps: values.reps ? Number(values.reps) : quick ? 1 : 5,
    seconds: quick ? 0.01 : 0.2,
    ...(values.threads ? { threads: parseList(values.threads) } : {}),
  });
  if (values.json) {
    console.log(JSON.stringify(r, null, 2));
    return;
  }
  console.log(`bitflash bench roofline, ${r.date}, ${r.cpu.arch}, active path ${r.cpu.active}${quick ? ' (--quick: smoke test only)' : ''}`);
  console.log(formatRoofline(r));
}

async function benchMatmulCmd(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      threads: { type: 'string' },
      dtypes: { type: 'string' },
      reps: { type: 'string' },
      out: { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const all: MatmulDType[] = ['q8_0', 'q4_0', 'i8c', 'i4g'];
  const dtypes = values.dtypes ? (values.dtypes.split(',').map((d) => d.trim()) as MatmulDType[]) : all;
  for (const d of dtypes) if (!all.includes(d)) throw new RangeError(`--dtypes must list ${all.join(', ')}, received ${JSON.stringify(d)}`);
  const threads = values.threads ? parseList(values.threads) : [...new Set([1, getThreads()])];
  const reps = values.reps ? parseList(values.reps)[0] : undefined;
  const json = values.json === true;
  const r = await benchMatmul({
    quick: values.quick === true,
    threads,
    dtypes,
    ...(reps !== undefined ? { reps } : {}),
    log: json ? undefined : (s: string) => console.error(s),
  });
  const file = writeBenchMatmul(r, values.out);
  if (json) {
    console.log(JSON.stringify(r, null, 2));
    return;
  }
  console.log(`bitflash bench matmul, ${r.date}, ${r.machine.cpu}, ${r.machine.arch}, active path ${r.machine.isa}${r.quick ? ' (--quick: smoke test only)' : ''}`);
  console.log('\nRoofline (same run):');
  console.log(formatRoofline(r.roofline));
  console.log('');
  console.log(formatBenchMatmul(r));
  for (const n of r.notes) console.log(`\nnote: ${n}`);
  console.log(`\nJSON: ${file}`);
}

async function benchTernaryCmd(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      threads: { type: 'string' },
      reps: { type: 'string' },
      out: { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const threads = values.threads ? parseList(values.threads) : [...new Set([1, getThreads()])];
  const reps = values.reps ? parseList(values.reps)[0] : undefined;
  const json = values.json === true;
  const r = await benchTernary({
    quick: values.quick === true,
    threads,
    ...(reps !== undefined ? { reps } : {}),
    log: json ? undefined : (s: string) => console.error(s),
  });
  const file = writeBenchTernary(r, values.out);
  if (json) {
    console.log(JSON.stringify(r, null, 2));
    return;
  }
  console.log(`bitflash bench ternary, ${r.date}, ${r.machine.cpu}, ${r.machine.arch}, active path ${r.machine.isa}${r.quick ? ' (--quick: smoke test only)' : ''}`);
  console.log('\nRoofline (same run):');
  console.log(formatRoofline(r.roofline));
  console.log('');
  console.log(formatBenchTernary(r));
  for (const n of r.notes) console.log(`\nnote: ${n}`);
  console.log(`\nJSON: ${file}`);
}

async function benchDyadicCmd(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      accuracy: { type: 'boolean', default: false },
      throughput: { type: 'boolean', default: false },
      block: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  });
  const any = values.accuracy || values.throughput || values.block;
  const r = await benchDyadic({
    quick: values.quick === true,
    accuracy: !any || values.accuracy === true,
    throughput: !any || values.throughput === true,
    block: !any || values.block === true,
  });
  const file = writeBenchDyadic(r, values.out);
  if (values.json) {
    console.log(JSON.stringify(r, null, 2));
    return;
  }
  console.log(`bitflash bench dyadic, ${r.date}, ${r.machine.cpu}, ${r.machine.arch}, active path ${r.machine.isa}${r.quick ? ' (--quick: smoke test only)' : ''}\n`);
  console.log(formatBenchDyadic(r));
  for (const n of r.notes) console.log(`\nnote: ${n}`);
  console.log(`\nJSON: ${file}`);
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(HELP);
    return 0;
  }
  if (cmd === '--version' || cmd === '-v') {
    console.log(version);
    return 0;
  }
  if (cmd === 'info') {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { json: { type: 'boolean', default: false }, ram: { type: 'string' }, density: { type: 'string' } },
    });
    if (positionals[0]) return modelInfoCmd(positionals[0], values.json === true, values.ram, values.density ? Number(values.density) : undefined);
    await info(values.json === true);
    return 0;
  }
  if (cmd === 'run') return runCmd(rest);
  if (cmd === 'convert') return convertCmd(rest);
  if (cmd === 'bench') {
    const [what, ...opts] = rest;
    if (what === 'roofline') {
      await benchRoofline(opts);
      return 0;
    }
    if (what === 'matmul') {
      await benchMatmulCmd(opts);
      return 0;
    }
    if (what === 'ternary') {
      await benchTernaryCmd(opts);
      return 0;
    }
    if (what === 'flash') {
      const { values } = parseArgs({
        args: opts,
        options: {
          json: { type: 'boolean', default: false }, model: { type: 'string' }, quality: { type: 'boolean', default: false },
          speed: { type: 'boolean', default: false }, 'write-model': { type: 'string' }, flash: { type: 'string' },
          budgets: { type: 'string' }, methods: { type: 'string' }, densities: { type: 'string' }, tokens: { type: 'string' }, warmup: { type: 'string' },
          reserve: { type: 'string' }, readers: { type: 'string' }, 'max-read': { type: 'string' }, 'no-prefetch': { type: 'boolean', default: false }, 'max-gap': { type: 'string' }, 'scalar-ffn': { type: 'boolean', default: false }, 'arena': { type: 'string' },
          'no-fio': { type: 'boolean', default: false }, out: { type: 'string' },
        },
      });
      if (values['write-model']) {
        const out = values['write-model'];
        const flashOut = values.flash ?? out.replace(/\.gguf$/, '') + '-flash.gguf';
        console.error(`writing a Llama-2-7B-shaped q4_0 model with random weights to ${out}`);
        const n = writeRandomLlama(out, LLAMA2_7B_SHAPE, { onTensor: (i, t, name) => { if (i % 32 === 0) console.error(`  ${i}/${t} ${name}`); } });
        console.error(`${(n / 2 ** 30).toFixed(2)} GiB of tensors; converting to the flash layout (q4_0 bundle rows) at ${flashOut}`);
        const r = convertFlash(readGGUF(out), flashOut, { rowType: 'q4_0', onTensor: (i, t, name) => { if (i % 32 === 0) console.error(`  ${i}/${t} ${name}`); } });
        console.log(JSON.stringify({ model: out, flash: flashOut, ...r }));
        return 0;
      }
      if (values.speed) {
        if (!values.model || !values.flash) throw new RangeError('bench flash --speed needs --model m.gguf and --flash m-flash.gguf (bench flash --write-model writes both)');
        const floats = (s: string) => s.split(',').map((x) => { const v = Number(x); if (!(v > 0 && v <= 1000)) throw new RangeError(`expected positive fractions of the model file, received ${JSON.stringify(s)}`); return v; });
        const methods = (values.methods ?? 'resident,mmap,layers,bitflash').split(',') as SpeedMethod[];
        for (const m of methods) if (!['resident', 'mmap', 'layers', 'bitflash'].includes(m)) throw new RangeError(`unknown method ${m}`);
        const readers = values.readers ? parseList(values.readers)[0] : undefined;
        const maxRead = values['max-read'] ? parseBytes(values['max-read']) : undefined;
        const maxGap = values['max-gap'] ? parseBytes(values['max-gap']) : undefined;
        const tag = [readers ? `${readers} readers` : '', maxRead ? `reads <= ${maxRead >> 10} KiB` : '', maxGap !== undefined ? `gap < ${maxGap >> 10} KiB` : '', values['no-prefetch'] ? 'no prefetch' : '', values['scalar-ffn'] ? 'f32-decoded FFN' : '', values.arena ? `${values.arena} arena` : ''].filter(Boolean).join(', ');
        if (values.arena !== undefined && values.arena !== 'shared' && values.arena !== 'per-layer') throw new RangeError('--arena must be shared or per-layer');
        const variants = floats(values.densities ?? '0.3').map((d) => ({
          name: `density ${d}${tag ? `, ${tag}` : ''}`, density: d,
          ...(readers ? { flashReaders: readers } : {}), ...(maxRead ? { flashMaxRead: maxRead } : {}), ...(values['no-prefetch'] ? { streamPrefetch: false } : {}),
          ...(maxGap !== undefined ? { flashMaxGap: maxGap } : {}), ...(values['scalar-ffn'] ? { flashSimd: false } : {}), ...(values.arena ? { flashSharedArena: values.arena === 'shared' } : {}),
        }));
        const r = await benchFlashSpeed({
          model: values.model, flash: values.flash, methods, variants,
          ...(values.budgets ? { budgets: floats(values.budgets) } : {}),
          ...(values.tokens ? { tokens: parseList(values.tokens)[0]! } : {}),
          ...(values.warmup ? { warmup: Number(values.warmup) } : {}),
          ...(values.reserve ? { reserve: parseBytes(values.reserve) } : {}),
          fio: !values['no-fio'], log: (s) => console.error(s),
        });
        const files = writeFlashSpeed(r, values.out);
        if (values.json) console.log(JSON.stringify(r, null, 2));
        else console.log(`bitflash bench flash --speed, ${r.date}\n${formatFlashSpeed(r)}\n\n${files.json}\n${files.svg}`);
        return 0;
      }
      const r = await benchFlashQuality({ ...(values.model ? { model: values.model } : {}), log: (s) => console.error(s) });
      if (values.json) console.log(JSON.stringify({ date: new Date().toISOString(), ...r }, null, 2));
      else console.log(`bitflash bench flash --quality, ${new Date().toISOString().slice(0, 10)}, ${r.model} (flash layout, f32 rows, dense vs calibrated sparse FFN)\n${formatFlashQuality(r)}`);
      return 0;
    }
    if (what === 'dyadic') {
      await benchDyadicCmd(opts);
      return 0;
    }
    console.error(`bitflash bench: unknown benchmark ${JSON.stringify(what ?? '')}; available: roofline, matmul, ternary, dyadic, flash`);
    return 2;
  }
  console.error(`bitflash: unknown command ${JSON.stringify(cmd)}\n\n${HELP}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof BitflashError || e instanceof RangeError || e instanceof TypeError) {
      console.error(`bitflash: ${e.message}`);
    } else {
      console.error(e);
    }
    process.exitCode = 1;
  },
);
