#!/usr/bin/env bash
# Proves the published package works from its prebuilds alone: npm pack, then install the tarball
# into a temporary folder whose PATH has node and npm but no compiler and no cmake, import it and
# call a kernel (sync and async) and the CLI.
set -euo pipefail
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tgz=$(npm pack --silent --pack-destination "$work" | tail -n 1)
echo "pack-check: $tgz ($(du -h "$work/$tgz" | cut -f1))"
tar -tzf "$work/$tgz" | grep -q 'package/prebuilds/linux-x64/node.napi.glibc.node' || { echo "pack-check: the tarball has no linux-x64 prebuild" >&2; exit 1; }
if tar -tzf "$work/$tgz" | grep -q 'package/build/'; then echo "pack-check: build/ leaked into the tarball" >&2; exit 1; fi

bin="$work/bin"; mkdir -p "$bin"
ln -s "$(command -v node)" "$bin/node"
ln -s "$(command -v npm)" "$bin/npm"
for t in sh env; do ln -s "$(command -v $t)" "$bin/$t"; done
export PATH="$bin"
for t in cmake cc gcc g++ c++ clang make; do
  if command -v "$t" >/dev/null 2>&1; then echo "pack-check: $t is still on PATH" >&2; exit 1; fi
done
mkdir "$work/app" && cd "$work/app"
echo '{"name":"app","version":"1.0.0","type":"module","private":true}' > package.json
npm install --no-audit --no-fund "$work/$tgz" >/dev/null
cat > check.mjs <<'JS'
import { quantizeBlocksSync, quantizeBlocks, dequantizeBlocksSync, cpuFeatures, kernelChoices } from 'bitflash';
const x = new Float32Array(64).map((_, i) => (i - 31.5) / 8);
const q = quantizeBlocksSync(x, 'q8_0');
const qa = await quantizeBlocks(x, 'q8_0');
if (q.length !== 68 || Buffer.compare(Buffer.from(q), Buffer.from(qa)) !== 0) throw new Error('sync and async differ');
const y = dequantizeBlocksSync(q, 'q8_0');
const err = Math.max(...x.map((v, i) => Math.abs(v - y[i])));
if (!(err < 0.02)) throw new Error(`round trip error ${err}`);
console.log(`pack-check: installed package works (active path ${cpuFeatures().active}, ${kernelChoices()[0].kernel}, max error ${err.toFixed(4)})`);
JS
node check.mjs
./node_modules/.bin/bitflash info | head -3
