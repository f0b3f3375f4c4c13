#!/usr/bin/env node
/** The `bitflash` command line. */
import { parseArgs } from 'node:util';
import { BitflashError } from '../errors.js';
import { cpuFeatures, getThreads, kernelChoices, physicalCores } from '../runtime.js';
import { formatRoofline, measureRoofline } from '../roofline.js';
import { version } from '../version.js';
import { native } from '../binding.js';
import { parseBytes, parseList } from './args.js';

const HELP = `bitflash ${version}: low-bit inference kernels for Node.js

Usage:
  bitflash info [--json]                   version, CPU features, kernel path per op, threads
  bitflash bench roofline [options]        DRAM read bandwidth, int8 and fp32 peaks of this machine
      --threads 1,2    thread counts (default: 1 and all)
      --bytes 2G       read buffer size (default 2G)
      --reps 5         repetitions (best and median are printed)
      --quick          small buffer and short runs (a smoke test, not a measurement)
      --json           machine-readable output
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
    const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean', default: false } } });
    await info(values.json === true);
    return 0;
  }
  if (cmd === 'bench') {
    const [what, ...opts] = rest;
    if (what === 'roofline') {
      await benchRoofline(opts);
      return 0;
    }
    console.error(`bitflash bench: unknown benchmark ${JSON.stringify(what ?? '')}; available: roofline`);
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
