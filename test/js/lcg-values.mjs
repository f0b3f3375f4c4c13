// Deterministic f32 inputs in [-1, 1) from a 32-bit LCG: one definition for the code that must produce the
// same values in different processes and threads (test/js/concurrency-worker.mjs and the test that checks
// it, scripts/leak-check.mjs). Plain JS, so it runs without the tests' TypeScript loader.
export function lcgValues(n, seed) {
  let s = seed >>> 0 || 1;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = (s / 4294967296) * 2 - 1;
  }
  return x;
}
