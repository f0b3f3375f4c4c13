#!/usr/bin/env node
// Builds and runs the C++ suite (doctest binary under ctest).
//   node scripts/test-cpp.mjs [--sanitize] [--build-dir DIR]
import { spawnSync } from 'node:child_process';
import os from 'node:os';

const args = process.argv.slice(2);
const sanitize = args.includes('--sanitize');
const bi = args.indexOf('--build-dir');
const dir = bi >= 0 ? args[bi + 1] : sanitize ? 'build-asan-cpp' : 'build-cpp';
const jobs = String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length));

function run(cmd, argv, env = process.env) {
  console.log(`$ ${cmd} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

run('cmake', ['-S', '.', '-B', dir, '-DBITFLASH_BUILD_TESTS=ON', `-DBITFLASH_SANITIZE=${sanitize ? 'ON' : 'OFF'}`,
  `-DCMAKE_BUILD_TYPE=${sanitize ? 'RelWithDebInfo' : 'Release'}`]);
run('cmake', ['--build', dir, '-j', jobs]);
run('ctest', ['--test-dir', dir, '--output-on-failure'], {
  ...process.env,
  ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1',
  UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
});
