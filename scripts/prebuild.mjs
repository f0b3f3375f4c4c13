#!/usr/bin/env node
// Produces prebuilds/<platform>-<arch>/node.napi.glibc.node, the layout and tags node-gyp-build
// selects (prebuildify's naming), from a cmake-js build. prebuildify itself only drives node-gyp,
// so this short script packages cmake-js output instead. The static ISA check runs on the
// unstripped binary first; the shipped copy is stripped of debug info.
//   node scripts/prebuild.mjs            (host arch)
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';

function run(cmd, argv) {
  console.log(`$ ${cmd} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const platform = process.platform;
const arch = process.arch;
const libc = process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl';
const outDir = 'build-prebuild';
rmSync(outDir, { recursive: true, force: true });
run(process.execPath, ['node_modules/cmake-js/bin/cmake-js', 'compile', '-O', outDir]);
const built = path.join(outDir, 'Release', 'bitflash.node');
if (arch === 'x64') run(process.execPath, ['scripts/check-isa.mjs', built, outDir]);
const destDir = path.join('prebuilds', `${platform}-${arch}`);
mkdirSync(destDir, { recursive: true });
const dest = path.join(destDir, `node.napi.${libc}.node`);
copyFileSync(built, dest);
run('strip', ['--strip-debug', dest]);
console.log(`prebuild: ${dest}`);
