#!/usr/bin/env node
// npm "install" script. A consumer's npm (11+) usually skips it: the package then works from its
// prebuilds alone. When it does run (a clone of the repo, or approved scripts), it keeps a binary
// that loads and otherwise builds from source with cmake-js, which needs cmake and a C++ compiler.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const fromSource = existsSync(path.join(root, 'cpp', 'napi')) && existsSync(path.join(root, 'node_modules', 'cmake-js'));

if (!process.env.BITFLASH_BUILD_FROM_SOURCE) {
  try {
    const file = require('node-gyp-build').resolve(root);
    // A clone of the repository always builds its own (so C++ changes are never hidden by a stale binary).
    if (!fromSource || file.includes(`${path.sep}build${path.sep}`)) {
      require(file);
      console.log(`bitflash: using ${path.relative(root, file)}`);
      if (!fromSource) process.exit(0);
    }
  } catch {
    // no loadable binary: build below
  }
}

if (!fromSource) {
  console.error(
    `bitflash: no prebuilt binary fits ${process.platform}-${process.arch} and this install has no build tools.\n` +
      `To build from source you need cmake (>= 3.18) and a C++17 compiler:\n` +
      `  cd ${root} && npm install --include=dev --ignore-scripts && npx cmake-js compile`,
  );
  process.exit(1);
}

const cmakeJs = path.join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
const r = spawnSync(process.execPath, [cmakeJs, 'compile'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('bitflash: the native build failed (cmake-js compile). It needs cmake >= 3.18 and a C++17 compiler.');
  process.exit(r.status ?? 1);
}
