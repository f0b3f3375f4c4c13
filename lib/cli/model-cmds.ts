/** CLI commands around models: run, info <model>, convert. */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { packageRoot } from '../binding.js';
import { readGGUF } from '../model/gguf.js';
import { CONVERT_TYPES, convertGGUF, type ConvertType } from '../model/gguf-write.js';
import { convertFlash, type FlashRowType } from '../model/flash-layout.js';
import { llamaHParams } from '../model/llama.js';
import { markReluModel } from '../model/predictor.js';
import { loadModel } from '../model/model.js';
import { setThreads } from '../runtime.js';
import { formatPlan, parseBudget, planResidency } from '../memory/planner.js';

/** The model bundled with the package (stories260K, MIT): the embedded default of `bitflash run`. */
export const DEFAULT_MODEL = path.join(packageRoot, 'models', 'stories260K.gguf');

export async function runCmd(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      prompt: { type: 'string', short: 'p', default: 'Once upon a time' },
      'max-tokens': { type: 'string', short: 'n', default: '128' },
      temp: { type: 'string', default: '0.8' },
      'top-k': { type: 'string', default: '40' },
      'top-p': { type: 'string', default: '0.95' },
      'min-p': { type: 'string', default: '0.05' },
      'repeat-penalty': { type: 'string', default: '1.1' },
      seed: { type: 'string' },
      ctx: { type: 'string' },
      threads: { type: 'string', short: 't' },
      'kv-type': { type: 'string', default: 'f32' },
      ram: { type: 'string' },
      density: { type: 'string' },
    },
  });
  const file = positionals[0] ?? DEFAULT_MODEL;
  if (!existsSync(file)) throw new RangeError(`run: no such model file ${JSON.stringify(file)}`);
  if (values.threads) setThreads(Number(values.threads));
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.once('SIGINT', onSig);
  const model = await loadModel(file, {
    ...(values.ctx ? { nCtx: Number(values.ctx) } : {}),
    ...(values.ram ? { ramBudget: values.ram } : {}),
    ...(values.density ? { density: Number(values.density) } : {}),
    kvType: values['kv-type'] as 'f32' | 'f16',
  });
  try {
    if (!positionals[0]) console.error(`(no model given: running the bundled ${path.basename(DEFAULT_MODEL)})`);
    process.stdout.write(values.prompt!);
    for await (const t of model.generate(values.prompt!, {
      maxTokens: Number(values['max-tokens']),
      temperature: Number(values.temp),
      topK: Number(values['top-k']),
      topP: Number(values['top-p']),
      minP: Number(values['min-p']),
      repeatPenalty: Number(values['repeat-penalty']),
      ...(values.seed !== undefined ? { seed: Number(values.seed) } : {}),
      signal: ac.signal,
    })) {
      process.stdout.write(t.text);
    }
    const s = model.lastStats!;
    process.stdout.write('\n');
    console.error(
      `prompt: ${s.promptTokens} tokens, ${s.promptTokensPerSecond.toFixed(1)} tokens/s; decode: ${s.decodeTokens} tokens, ${s.decodeTokensPerSecond.toFixed(1)} tokens/s`,
    );
  } catch (e) {
    if (!ac.signal.aborted) throw e;
    process.stdout.write('\n');
  } finally {
    process.off('SIGINT', onSig);
    model.dispose();
  }
  return 0;
}

function fmtBytes(b: number): string {
  return b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(2)} MiB` : `${(b / 1024).toFixed(1)} KiB`;
}

export async function modelInfoCmd(file: string, json: boolean, ram?: string, density?: number): Promise<number> {
  const f = readGGUF(file);
  const hp = llamaHParams(f);
  const plan = ram ? planResidency(f, { ramBudget: parseBudget(ram), nCtx: Math.min(4096, hp.contextLength), batch: 64, kvType: 'f32', ...(density ? { density } : {}) }) : undefined;
  const byType = new Map<string, { count: number; bytes: number }>();
  for (const t of f.tensors) {
    const e = byType.get(t.typeName) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += t.bytes;
    byType.set(t.typeName, e);
  }
  const weights = f.tensors.reduce((a, t) => a + t.bytes, 0);
  const nCtx = Math.min(4096, hp.contextLength);
  const kv = 2 * hp.nLayers * nCtx * hp.nHeadKv * hp.headDim * 4;
  const out = {
    file,
    version: f.version,
    architecture: hp.arch,
    name: f.metadata.get('general.name'),
    hparams: hp,
    tensors: f.tensors.map((t) => ({ name: t.name, type: t.typeName, dims: t.dims, bytes: t.bytes })),
    dtypes: Object.fromEntries(byType),
    memory: { weights, kvCacheF32AtDefaultCtx: kv, defaultCtx: nCtx, total: weights + kv },
    ...(plan ? { plan: { ...plan, resident: undefined } } : {}),
  };
  if (json) {
    console.log(JSON.stringify(out, null, 2));
    return 0;
  }
  console.log(`${file}: GGUF v${f.version}, ${hp.arch}${out.name ? ` (${String(out.name)})` : ''}`);
  console.log(`  embedding ${hp.nEmbd}, layers ${hp.nLayers}, heads ${hp.nHead} (kv ${hp.nHeadKv}, head dim ${hp.headDim}), ffn ${hp.nFf}, vocab ${hp.nVocab}, context ${hp.contextLength}`);
  console.log(`  rope: ${hp.ropeMode}, base ${hp.ropeBase}, freq scale ${hp.ropeFreqScale}, dims ${hp.nRot}; rms eps ${Number(hp.rmsEps.toPrecision(6))}`);
  console.log('  tensors by dtype:');
  for (const [t, e] of byType) console.log(`    ${t.padEnd(6)} ${String(e.count).padStart(4)} tensors  ${fmtBytes(e.bytes)}`);
  console.log(`  memory: weights ${fmtBytes(weights)} + f32 KV cache at ctx ${nCtx} ${fmtBytes(kv)} = ${fmtBytes(weights + kv)} (plus activations)`);
  if (plan) console.log(`residency plan, ${formatPlan(plan)}`);
  return 0;
}

export async function convertCmd(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { type: { type: 'string' }, flash: { type: 'boolean', default: false }, 'ffn-activation': { type: 'string' } } });
  const [input, output] = positionals;
  if (input && output && values['ffn-activation'] !== undefined) {
    if (values['ffn-activation'] !== 'relu') throw new RangeError(`convert: --ffn-activation must be relu, received ${JSON.stringify(values['ffn-activation'])}`);
    markReluModel(input, output);
    console.log(`${output}: FFN marked ReLU-family (bitflash.ffn_activation = "relu")`);
    return 0;
  }
  if (input && output && values.flash) {
    const rowTypes = ['f32', 'f16', 'q8_0', 'q4_0'];
    if (values.type && !rowTypes.includes(values.type)) throw new RangeError(`convert --flash: --type (the bundle row type) must be one of ${rowTypes.join(' | ')}`);
    const r = convertFlash(readGGUF(input), output, { ...(values.type ? { rowType: values.type as FlashRowType } : {}) });
    console.log(`${output}: flash layout, ${r.layers} layers of neuron bundles (${r.bundleBytes} bytes each, ${r.rowType} rows); ${fmtBytes(r.bytesOut)}`);
    console.log(`  down columns requantized along the hidden dimension: max |error| ${r.downMaxAbsErr.toExponential(3)} (max |weight| ${r.downMaxAbs.toExponential(3)})`);
    return 0;
  }
  if (!input || !output || !values.type) throw new RangeError(`convert: usage: bitflash convert in.gguf out.gguf --type ${CONVERT_TYPES.join('|')}  |  --flash [--type f32|f16|q8_0|q4_0]`);
  if (!(CONVERT_TYPES as readonly string[]).includes(values.type)) throw new RangeError(`convert: --type must be one of ${CONVERT_TYPES.join(' | ')}, received ${JSON.stringify(values.type)}`);
  const tty = process.stderr.isTTY === true;
  const f = readGGUF(input);
  const report = convertGGUF(f, output, values.type as ConvertType, (i, total, name) => {
    if (!tty) return;
    const w = 30, done = Math.round(((i + 1) / total) * w);
    process.stderr.write(`\r[${'#'.repeat(done)}${' '.repeat(w - done)}] ${i + 1}/${total} ${name.slice(0, 40).padEnd(40)}`);
  });
  if (tty) process.stderr.write('\n');
  console.log(`${output}: ${report.converted.length} tensors converted to ${values.type}, ${report.kept.length} kept; ${fmtBytes(report.bytesIn)} -> ${fmtBytes(report.bytesOut)}`);
  for (const k of report.kept) console.log(`  kept ${k.name} (${k.type}): ${k.why}`);
  return 0;
}
