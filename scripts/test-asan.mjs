#!/usr/bin/env node
// Sanitizer run: the C++ suite and the JS suite, both against ASan+UBSan builds.
// The addon is built into build-asan/ and loaded by the JS suite through BITFLASH_NATIVE_PATH,
// with libasan preloaded into node (which is not itself instrumented).
import { spawnSync } from 'node:child_process';
import path from 'node:path';

function run(cmd, argv, env = process.env) {
  console.log(`$ ${cmd} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
function out(cmd, argv) {
  return spawnSync(cmd, argv, { encoding: 'utf8' }).stdout.trim();
}

run(process.execPath, ['scripts/test-cpp.mjs', '--sanitize']);

run(process.execPath, ['node_modules/cmake-js/bin/cmake-js', 'compile', '-O', 'build-asan', '-D', '--CDBITFLASH_SANITIZE=ON']);
const asan = out('g++', ['-print-file-name=libasan.so']);
const ubsan = out('g++', ['-print-file-name=libubsan.so']);
// The peers (onnxruntime, llama.cpp) are uninstrumented third-party binaries: their oracle tests run in
// the normal suite, not under ASan's interceptors.
run(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--pool=forks',
  '--exclude', 'test/js/oracle-llama-cpp.test.ts', '--exclude', 'test/js/matmul-onnx.test.ts'], {
  ...process.env,
  BITFLASH_NATIVE_PATH: path.resolve('build-asan/Debug/bitflash.node'),
  BITFLASH_EXPECT_SANITIZED: '1',
  BITFLASH_REQUIRE_ORACLE: '',
  LD_PRELOAD: `${asan} ${ubsan}`,
  // node's own allocations at exit are not ours to judge; leaks are checked by the C++ suite under LSan.
  ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:handle_segv=1',
  UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
});
