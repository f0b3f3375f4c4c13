#!/usr/bin/env node
// Builds and runs the C++ suite (doctest binary under ctest).
//   node scripts/test-cpp.mjs [--sanitize[=address|thread]] [--build-dir DIR]
// --sanitize (= address): ASan + UBSan (LeakSanitizer on), the whole suite.
// --sanitize=thread: ThreadSanitizer, the thread pool and I/O engine tests (test_threadpool.cc,
//   test_io*.cc, test_stress_concurrency.cc): the code with threads; the kernels' tests would only
//   run 5-15x slower under TSan without exercising any more synchronization.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

const args = process.argv.slice(2);
const sanArg = args.find((a) => a === '--sanitize' || a.startsWith('--sanitize='));
const sanitize = sanArg === undefined ? 'none' : sanArg === '--sanitize' ? 'address' : sanArg.slice('--sanitize='.length);
if (!['none', 'address', 'thread'].includes(sanitize)) {
  console.error(`test-cpp: --sanitize must be address or thread, received ${sanitize}`);
  process.exit(2);
}
const bi = args.indexOf('--build-dir');
const dir = bi >= 0 ? args[bi + 1] : { none: 'build-cpp', address: 'build-asan-cpp', thread: 'build-tsan-cpp' }[sanitize];
const jobs = String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length));

function run(cmd, argv, env = process.env) {
  console.log(`$ ${cmd} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

run('cmake', ['-S', '.', '-B', dir, '-DBITFLASH_BUILD_TESTS=ON', `-DBITFLASH_SANITIZE=${sanitize === 'address' ? 'ON' : 'OFF'}`,
  `-DBITFLASH_SANITIZE_THREAD=${sanitize === 'thread' ? 'ON' : 'OFF'}`,
  `-DCMAKE_BUILD_TYPE=${sanitize === 'none' ? 'Release' : 'RelWithDebInfo'}`]);
if (sanitize === 'thread') {
  // only the thread pool + I/O objects and their tests (target bitflash_tsan_tests, CMakeLists.txt)
  run('cmake', ['--build', dir, '-j', jobs, '--target', 'bitflash_tsan_tests']);
  // Left out: two single-threaded-caller tests whose time goes into byte-by-byte checks of
  // multi-MiB reads and a model of the (one-owner) neuron cache: ~5 min under TSan for no extra
  // synchronization; the reader threads' handoffs are covered by the async/several-submitters,
  // fault-injection and stress tests that remain.
  // setarch -R (no ASLR for this process): GCC 12's TSan aborts with "unexpected memory mapping" on
  // kernels that randomize mmap with more bits (vm.mmap_rnd_bits > 28) than its shadow layout expects.
  run('setarch', [os.machine(), '-R', path.join(dir, 'bitflash_tsan_tests'), '--test-case-exclude=ReaderPool: random batches match the file*,NeuronCache: random sequences*'], {
    ...process.env,
    // halt on the first report: a race fails the run (no suppressions file: none is needed)
    TSAN_OPTIONS: 'halt_on_error=1:second_deadlock_stack=1:history_size=4',
  });
} else {
  run('cmake', ['--build', dir, '-j', jobs]);
  run('ctest', ['--test-dir', dir, '--output-on-failure'], {
    ...process.env,
    ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1',
    UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
  });
}
