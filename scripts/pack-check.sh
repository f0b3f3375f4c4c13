#!/usr/bin/env bash
# Proves the published package works from its prebuilds alone: npm pack, then install the tarball
# into a temporary folder whose PATH has node and npm but no compiler and no cmake, import it and
# call a kernel (sync and async) and the CLI.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tgz=$(npm pack --silent --pack-destination "$work" | tail -n 1)
echo "pack-check: $tgz, $(du -h "$work/$tgz" | cut -f1)"
tar -tzf "$work/$tgz" > "$work/list"
plat="linux-$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/')"
# Both published prebuilds (npm run prebuild makes linux-arm64 too, cross-compiled on linux-x64), each
# an ELF of its own machine (62 x86-64, 183 aarch64). BITFLASH_PACK_PREBUILDS narrows the list.
tar -xzf "$work/$tgz" -C "$work" package/prebuilds
for p in ${BITFLASH_PACK_PREBUILDS:-linux-x64 linux-arm64}; do
  f="package/prebuilds/$p/node.napi.glibc.node"
  grep -qx "$f" "$work/list" || { echo "pack-check: the tarball has no $p prebuild" >&2; exit 1; }
  machine=$(od -An -tu2 -j18 -N2 "$work/$f" | tr -d ' ')
  case "$p:$machine" in linux-x64:62 | linux-arm64:183) echo "pack-check: $f, $(du -h "$work/$f" | cut -f1), ELF machine $machine" ;;
    *) echo "pack-check: $f is not a $p binary (ELF machine $machine)" >&2; exit 1 ;; esac
done
rm -rf "$work/package"
grep -q "package/prebuilds/$plat/node.napi.glibc.node" "$work/list" || { echo "pack-check: the tarball has no $plat prebuild" >&2; exit 1; }
if grep -q 'package/build' "$work/list"; then echo "pack-check: build output leaked into the tarball" >&2; exit 1; fi

# A PATH with node and npm (and the shell npm runs scripts with), nothing that compiles.
bin="$work/bin"
mkdir -p "$bin" "$work/app"
for t in node npm sh env; do ln -s "$(command -v $t)" "$bin/$t"; done
echo '{"name":"app","version":"1.0.0","type":"module","private":true}' > "$work/app/package.json"
cat > "$work/app/check.mjs" <<'JS'
import { quantizeBlocksSync, quantizeBlocks, dequantizeBlocksSync, cpuFeatures, kernelChoices } from 'bitflash';
const x = new Float32Array(64).map((_, i) => (i - 31.5) / 8);
const q = quantizeBlocksSync(x, 'q8_0');
const qa = await quantizeBlocks(x, 'q8_0');
if (q.length !== 68 || Buffer.compare(Buffer.from(q), Buffer.from(qa)) !== 0) throw new Error('sync and async differ');
const y = dequantizeBlocksSync(q, 'q8_0');
const err = Math.max(...x.map((v, i) => Math.abs(v - y[i])));
if (!(err < 0.02)) throw new Error(`round trip error ${err}`);
console.log(`pack-check: the installed package works (active path ${cpuFeatures().active}, ${kernelChoices()[0].kernel}, max error ${err.toFixed(4)})`);
JS
(
  cd "$work/app"
  export PATH="$bin"
  for t in cmake cc gcc g++ c++ clang make; do
    if command -v "$t" >/dev/null 2>&1; then echo "pack-check: $t is still on PATH" >&2; exit 1; fi
  done
  npm install --no-audit --no-fund "$work/$tgz"
  node check.mjs
  node node_modules/bitflash/dist/cli/main.js info
  # the embedded default model ships in the package
  out=$(node node_modules/bitflash/dist/cli/main.js run -n 12 --temp 0 --repeat-penalty 1 2>/dev/null)
  case "$out" in "Once upon a time, there was a little girl"*) echo "pack-check: bitflash run works from the package: $out" ;; *) echo "pack-check: bitflash run printed: $out" >&2; exit 1 ;; esac
)

# Without a fitting binary, the import fails with one clear message that says how to build.
rm -rf "$work/app/node_modules/bitflash/prebuilds"
if (cd "$work/app" && PATH="$bin" node check.mjs) 2> "$work/err"; then
  echo "pack-check: import without a prebuild should fail" >&2; exit 1
fi
grep -q 'no native binary fits this machine' "$work/err" && grep -q 'npx cmake-js compile' "$work/err" || { cat "$work/err" >&2; exit 1; }
echo "pack-check: without a prebuild the import fails with the build-from-source message"
