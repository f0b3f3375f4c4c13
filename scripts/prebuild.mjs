#!/usr/bin/env node
// Produces prebuilds/<platform>-<arch>/node.napi.glibc.node, the layout and tags node-gyp-build
// selects (prebuildify's naming), from cmake-js builds. prebuildify itself only drives node-gyp,
// so this short script packages cmake-js output instead. The static ISA check runs on the
// unstripped binary first; the shipped copy is stripped of debug info.
//   node scripts/prebuild.mjs                 host arch, plus linux-arm64 cross-built on a linux-x64 host
//   node scripts/prebuild.mjs --arch x64      only one arch (also BITFLASH_PREBUILD_ARCH=x64|arm64)
// linux-arm64 on an x64 host is cross-compiled with Debian's g++-aarch64-linux-gnu through
// cmake/aarch64-linux-gnu.cmake; cmake-js takes the Node-API headers from node-api-headers (the
// package's "binary.napi_versions"), so the headers are the same for both arches and nothing is downloaded.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';

function run(cmd, argv) {
  console.log(`$ ${cmd} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { stdio: 'inherit' });
  if (r.error) {
    console.error(`prebuild: cannot run ${cmd}: ${r.error.message}`);
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
}
function have(cmd) {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

const platform = process.platform;
const hostArch = process.arch;
const argi = process.argv.indexOf('--arch');
const want = (argi > 0 ? process.argv[argi + 1] : process.env.BITFLASH_PREBUILD_ARCH) || 'all';
const crossArm64 = platform === 'linux' && hostArch === 'x64';
const available = crossArm64 ? ['x64', 'arm64'] : [hostArch];
const arches = want === 'all' ? available : [want];
for (const a of arches) {
  if (!available.includes(a)) {
    console.error(`prebuild: cannot build ${platform}-${a} on ${platform}-${hostArch} (can: ${available.join(', ')})`);
    process.exit(2);
  }
}

for (const arch of arches) {
  const cross = arch !== hostArch;
  const prefix = cross ? 'aarch64-linux-gnu-' : '';
  if (cross && !have(`${prefix}g++`)) {
    console.error(
      `prebuild: linux-arm64 is cross-compiled with ${prefix}g++, which is not installed (Debian: apt-get install g++-aarch64-linux-gnu binutils-aarch64-linux-gnu).\n` +
        `To build the host's prebuild alone: node scripts/prebuild.mjs --arch ${hostArch}`,
    );
    process.exit(1);
  }
  // The host's libc for a native build; the cross toolchain is Debian's glibc one.
  const libc = cross || process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl';
  const outDir = cross ? `build-prebuild-${arch}` : 'build-prebuild';
  rmSync(outDir, { recursive: true, force: true });
  const cmakeArgs = ['node_modules/cmake-js/bin/cmake-js', 'compile', '-O', outDir];
  if (cross) cmakeArgs.push('--arch', arch, `--CDCMAKE_TOOLCHAIN_FILE=${path.resolve('cmake/aarch64-linux-gnu.cmake')}`);
  run(process.execPath, cmakeArgs);
  const built = path.join(outDir, 'Release', 'bitflash.node');
  if (arch === 'x64' || arch === 'arm64') run(process.execPath, ['scripts/check-isa.mjs', built, outDir, ...(cross ? [`${prefix}objdump`] : [])]);
  const destDir = path.join('prebuilds', `${platform}-${arch}`);
  mkdirSync(destDir, { recursive: true });
  const dest = path.join(destDir, `node.napi.${libc}.node`);
  copyFileSync(built, dest);
  run(`${prefix}strip`, ['--strip-debug', dest]);
  console.log(`prebuild: ${dest}`);
}
