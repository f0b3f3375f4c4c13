// A worker_threads body for test/js/concurrency.test.ts: loads the addon in its own environment (the
// built dist/, so it runs without the test's TypeScript loader), runs ops and posts their results.
//   { mode: 'ops', seed }   -> quantize, pack, many async matmuls, a requantize; posts { seed, y, q, r }
//   { mode: 'flood', seed } -> starts `count` async matmuls, posts 'started', never waits for them (the
//                              parent terminates this worker with the jobs in flight)
import { parentPort, workerData } from 'node:worker_threads';
import { lcgValues as values } from './lcg-values.mjs';

const bf = await import(new URL('../../dist/index.js', import.meta.url).href);

const { mode, seed, n, k, m, count } = workerData;
const w = bf.quantizeSync(values(n * k, seed), { dtype: 'q4_0', shape: [n, k] });
const x = values(m * k, seed + 1);
if (mode === 'ops') {
  await bf.pack(w);
  const ys = await Promise.all(Array.from({ length: count }, () => bf.matmul(w, x)));
  for (const y of ys) if (y.some((v, i) => !Object.is(v, ys[0][i]))) throw new Error('worker: concurrent results differ');
  const acc = Int32Array.from({ length: 64 }, (_, i) => (i - 32) * 1000003);
  const r = await bf.requantize(acc, { multiplier: bf.dyadicFromScale(0.001), out: 'i8' });
  parentPort.postMessage({ seed, y: ys[0], q: w.data, r });
  w.dispose();
} else {
  const pending = Array.from({ length: count }, () => bf.matmul(w, x).catch(() => {}));
  void pending;
  parentPort.postMessage('started');
  // keep the event loop alive: the parent terminates this worker while the jobs run
  setInterval(() => {}, 1000);
}
