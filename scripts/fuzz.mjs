#!/usr/bin/env node
// Fuzzing of the parsers of untrusted bytes (README, Reliability > Fuzzing).
//   npm run fuzz -- [--time SEC] [--runs N] [--target NAME] [--ts-runs N] [--ci] [--merge] [--jobs N]
//
// C++ targets (test/fuzz/fuzz_*.cc, libFuzzer + ASan + UBSan, built with clang into build-fuzz/):
//   each runs for --time seconds (default 60), or --runs inputs, over its saved corpus
//   test/fuzz/corpus/<target>/ plus seeds cut from the real fixtures (models/*.gguf,
//   test/fixtures/*.gguf); new inputs that add coverage land in the saved corpus.
//   --merge then minimizes the saved corpus (-merge=1), keeping it small.
// TypeScript parsers (test/fuzz/ts/parsers-fuzz.ts, a coverage-free fast-check mutation fuzzer):
//   run as vitest for --time seconds, or --ts-runs inputs.
// --ci: the short pass of .ci/run: each C++ target over its regressions and saved corpus, then 5 s
//   of fuzzing (the TS short form is test/js/fuzz-parsers.test.ts, which npm test runs).
// A crash leaves its reproducer in build-fuzz/crashes/<target>/ and fails the run.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const ci = args.includes('--ci');
const merge = args.includes('--merge');
const time = Number(opt('--time', ci ? 5 : 60));
const runs = opt('--runs', undefined);
const tsRuns = opt('--ts-runs', undefined);
const only = opt('--target', undefined);
const jobs = String(opt('--jobs', Math.max(1, os.availableParallelism?.() ?? os.cpus().length)));
const dir = 'build-fuzz';

function run(cmd, argv, env = process.env, allowFail = false) {
  console.log(`$ ${cmd} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { stdio: 'inherit', env });
  if (r.status !== 0 && !allowFail) {
    console.error(`fuzz: ${cmd} exited with ${r.status ?? r.signal}`);
    process.exit(r.status ?? 1);
  }
  return r.status;
}

const targets = readdirSync('test/fuzz').filter((f) => /^fuzz_.*\.cc$/.test(f)).map((f) => f.slice(0, -3))
  .filter((t) => !only || t === only || only === 'ts');

// Seeds from the real fixtures: 4 KiB windows at the start (header, metadata) and spread over each file.
function seeds() {
  const out = mkdtempSync(path.join(os.tmpdir(), 'bitflash-fuzz-seeds-'));
  const files = ['models/stories260K.gguf', ...readdirSync('test/fixtures').filter((f) => f.endsWith('.gguf')).map((f) => `test/fixtures/${f}`)];
  let i = 0;
  for (const f of files) {
    const b = readFileSync(f);
    for (let k = 0; k < 16; k++) {
      const at = k === 0 ? 0 : Math.floor((b.length - 4096) * (k / 16));
      writeFileSync(path.join(out, `seed-${i++}`), b.subarray(at, at + 4096));
    }
  }
  return out;
}

const env = {
  ...process.env,
  ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1:allocator_may_return_null=1',
  UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
};

if (only !== 'ts') {
  run('cmake', ['-S', '.', '-B', dir, '-DBITFLASH_BUILD_FUZZ=ON', '-DCMAKE_CXX_COMPILER=clang++', '-DCMAKE_BUILD_TYPE=RelWithDebInfo']);
  run('cmake', ['--build', dir, '-j', jobs]);
  const seedDir = seeds();
  try {
    for (const t of targets) {
      const corpus = `test/fuzz/corpus/${t}`;
      const crashes = path.join(dir, 'crashes', t);
      mkdirSync(corpus, { recursive: true });
      mkdirSync(crashes, { recursive: true });
      const bin = path.join(dir, t);
      const common = [`-artifact_prefix=${crashes}/`, '-max_len=16384', '-rss_limit_mb=2048', '-timeout=10', '-print_final_stats=1'];
      // 1. the saved regressions of this target, one run each (a fixed crash must stay fixed)
      const reg = `test/fuzz/regressions/${t}`;
      if (existsSync(reg)) {
        const files = readdirSync(reg).map((f) => path.join(reg, f)).filter((f) => statSync(f).isFile());
        if (files.length) run(bin, [...common, ...files], env);
      }
      // 2. fuzzing over the saved corpus + the fixture seeds
      // (in --ci the new inputs go to a scratch folder: CI leaves the saved corpus as it is)
      const budget = runs ? [`-runs=${runs}`] : [`-max_total_time=${time}`];
      const scratch = ci ? mkdtempSync(path.join(os.tmpdir(), `bitflash-fuzz-${t}-`)) : undefined;
      run(bin, [...common, ...budget, ...(scratch ? [scratch] : []), corpus, seedDir], env);
      if (scratch) rmSync(scratch, { recursive: true, force: true });
      // 3. minimization of the saved corpus
      if (merge) {
        const tmp = `${corpus}.min`;
        rmSync(tmp, { recursive: true, force: true });
        mkdirSync(tmp);
        run(bin, [...common, '-merge=1', tmp, corpus], env);
        rmSync(corpus, { recursive: true, force: true });
        mkdirSync(corpus);
        for (const f of readdirSync(tmp)) copyFileSync(path.join(tmp, f), path.join(corpus, f));
        rmSync(tmp, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(seedDir, { recursive: true, force: true });
  }
}

// In --ci the TS short form is left to the suites (it is test/js/fuzz-parsers.test.ts, part of npm test).
if (!ci && (!only || only === 'ts')) {
  const tsEnv = { ...process.env };
  if (tsRuns) tsEnv.BITFLASH_FUZZ_RUNS = tsRuns;
  else if (!ci) tsEnv.BITFLASH_FUZZ_TIME_MS = String(time * 1000);
  run(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--typecheck.enabled=false', 'test/js/fuzz-parsers.test.ts'], tsEnv);
}
