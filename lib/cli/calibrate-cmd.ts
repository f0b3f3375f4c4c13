/** `bitflash calibrate`: low-rank neuron predictors for ReLU-family flash-layout models. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../binding.js';
import { readGGUF } from '../model/gguf.js';
import { CALIBRATION_TEXT_PATH } from '../model/model.js';
import { calibratePredictors, predictorQuality } from '../model/predictor.js';
import { tokenizerFromGGUF } from '../model/tokenizer.js';

const EVAL_TEXT_PATH = path.join(packageRoot, 'models', 'eval.txt');
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export async function calibrateCmd(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      text: { type: 'string' },
      eval: { type: 'string' },
      rank: { type: 'string' },
      recall: { type: 'string', default: '0.99' },
      output: { type: 'string', short: 'o' },
      json: { type: 'boolean', default: false },
      normalize: { type: 'boolean', default: false },
      'recall-of': { type: 'string', default: 'pairs' },
    },
  });
  const input = positionals[0];
  if (!input) throw new RangeError('calibrate: usage: bitflash calibrate model.gguf [--text file] [--rank r] [--recall 0.99] [-o out.gguf]');
  if (!existsSync(input)) throw new RangeError(`calibrate: no such model file ${JSON.stringify(input)}`);
  const num = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const x = Number(v);
    if (!Number.isFinite(x)) throw new RangeError(`calibrate: --${name} must be a number, received ${JSON.stringify(v)}`);
    return x;
  };
  const output = values.output ?? input.replace(/(\.gguf)?$/i, '-pred.gguf');
  const text = readFileSync(values.text ?? CALIBRATION_TEXT_PATH, 'utf8');
  const rank = num('rank', values.rank), recall = num('recall', values.recall);
  if (values['recall-of'] !== 'pairs' && values['recall-of'] !== 'mass') throw new RangeError(`calibrate: --recall-of must be pairs or mass, received ${JSON.stringify(values['recall-of'])}`);
  const r = await calibratePredictors(input, output, text, {
    ...(rank !== undefined ? { rank } : {}),
    ...(recall !== undefined ? { recall } : {}),
    normalize: values.normalize === true,
    recallOf: values['recall-of'] as 'pairs' | 'mass',
    log: (s) => console.error(s),
  });
  const evalText = readFileSync(values.eval ?? EVAL_TEXT_PATH, 'utf8');
  const ids = tokenizerFromGGUF(readGGUF(output)).encode(evalText);
  const q = await predictorQuality(output, ids.slice(0, Math.min(ids.length, 512)));
  if (values.json) {
    console.log(JSON.stringify({ date: new Date().toISOString(), model: input, output, ...r, quality: q }, null, 2));
    return 0;
  }
  console.log(`${output}: rank-${r.rank} predictors for ${r.layers.length} layers, fitted on ${r.fitTokens} tokens for recall ${r.recallTarget}, checked on ${r.tokens - r.fitTokens} held-out tokens`);
  console.log(`  predictors ${(r.predictorBytes / 1024).toFixed(1)} KiB resident instead of the gate projections (${(r.gateBytes / 1024).toFixed(1)} KiB)`);
  console.log('  layer  captured  threshold   held-out recall  precision  density  (truly active)');
  for (const l of r.layers) {
    console.log(`  ${String(l.layer).padStart(5)}  ${pct(l.captured).padStart(8)}  ${l.threshold.toFixed(4).padStart(9)}   ${pct(l.heldOut.recall).padStart(15)}  ${pct(l.heldOut.precision).padStart(9)}  ${pct(l.heldOut.density).padStart(7)}  ${pct(l.heldOut.activeDensity).padStart(8)}`);
  }
  console.log(`  on ${q.tokens} tokens of the eval text, one token per step: top-1 agreement with the exact ReLU run ${pct(q.top1Agreement)}, mean KL ${q.meanKl.toExponential(2)} nats; bundles read ${pct(q.density)} of n_ff (exact run: ${pct(q.exactDensity)})`);
  return 0;
}
