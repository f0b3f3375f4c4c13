import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readGGUF, readTensorData } from '../../lib/model/gguf.js';
import { convertGGUF } from '../../lib/model/gguf-write.js';
import { loadModel } from '../../lib/model/model.js';

const tiny = new URL('../../models/stories260K.gguf', import.meta.url).pathname;
const cli = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const tmp = mkdtempSync(path.join(tmpdir(), 'bitflash-convert-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const GREEDY = [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385];

async function greedy(file: string, n: number): Promise<number[]> {
  using m = await loadModel(file, { nCtx: 64 });
  const ids: number[] = [];
  for await (const t of m.generate('', { temperature: 0, repeatPenalty: 1, maxTokens: n })) ids.push(t.id);
  return ids;
}

describe('GGUF writer and convert', () => {
  it('q8_0: converts the 2-D weights, keeps norms and rows that do not fit, and the model still decodes', async () => {
    const out = path.join(tmp, 'q8.gguf');
    const src = readGGUF(tiny);
    const r = convertGGUF(src, out, 'q8_0');
    expect(r.converted.length).toBe(32);
    expect(r.kept.filter((k) => k.why.includes('not a multiple of 32')).map((k) => k.name)).toEqual([0, 1, 2, 3, 4].map((i) => `blk.${i}.ffn_down.weight`));
    const g = readGGUF(out);
    expect(g.tensors.map((t) => t.name)).toEqual(src.tensors.map((t) => t.name));
    expect(g.tensors.find((t) => t.name === 'blk.0.attn_q.weight')!.typeName).toBe('q8_0');
    expect(g.tensors.find((t) => t.name === 'blk.0.ffn_down.weight')!.typeName).toBe('f32');
    expect(g.metadata.get('general.file_type')).toBe(7);
    // metadata round-trips with its types
    for (const [k, v] of src.metadata) if (k !== 'general.file_type') expect(g.metadata.get(k)).toEqual(v);
    expect([...g.metadataTypes]).toEqual(expect.arrayContaining([...src.metadataTypes].filter(([k]) => k !== 'general.file_type')));
    // kept tensors are byte-identical
    const a = src.tensors.find((t) => t.name === 'blk.2.ffn_down.weight')!, b = g.tensors.find((t) => t.name === 'blk.2.ffn_down.weight')!;
    expect(Buffer.from(readTensorData(g, b)).equals(Buffer.from(readTensorData(src, a)))).toBe(true);
    expect((await greedy(out, 32)).slice(0, 24)).toEqual(GREEDY.slice(0, 24));
    expect(readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('f16 keeps the greedy text exactly; q4_0 files load and run', async () => {
    const f16 = path.join(tmp, 'f16.gguf');
    convertGGUF(readGGUF(tiny), f16, 'f16');
    expect(readGGUF(f16).tensors.find((t) => t.name === 'token_embd.weight')!.typeName).toBe('f16');
    expect(await greedy(f16, 16)).toEqual(GREEDY.slice(0, 16));
    const q4 = path.join(tmp, 'q4.gguf');
    const r = convertGGUF(readGGUF(tiny), q4, 'q4_0');
    expect(r.bytesOut).toBeLessThan(r.bytesIn / 3);
    const ids = await greedy(q4, 8);
    expect(ids.length).toBe(8);
  });

  it('a failed write leaves no output and no temporary file', () => {
    const bad = path.join(tmp, 'no-such-dir', 'x.gguf');
    expect(() => convertGGUF(readGGUF(tiny), bad, 'q8_0')).toThrow(expect.objectContaining({ code: 'ERR_BITFLASH_IO' }));
    expect(existsSync(bad)).toBe(false);
    expect(() => convertGGUF(readGGUF(tiny), path.join(tmp, 'y.gguf'), 'q3_k' as 'q8_0')).toThrow(RangeError);
  });

  // BITFLASH_NO_SUBPROCESS: set where process.execPath can't be spawned (an arm64 node under qemu-user
  // without binfmt_misc, scripts/test-arm64-js.sh)
  it.runIf(existsSync(cli) && !process.env.BITFLASH_NO_SUBPROCESS)('CLI: run (bundled default), info, convert', () => {
    const run = execFileSync(process.execPath, [cli, 'run', '-n', '12', '--temp', '0', '--repeat-penalty', '1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(run.startsWith('Once upon a time, there was a little girl')).toBe(true);
    const info = JSON.parse(execFileSync(process.execPath, [cli, 'info', tiny, '--json'], { encoding: 'utf8' }));
    expect(info.architecture).toBe('llama');
    expect(info.dtypes.f32.count).toBe(48);
    const out = path.join(tmp, 'cli-q8.gguf');
    const conv = execFileSync(process.execPath, [cli, 'convert', tiny, out, '--type', 'q8_0'], { encoding: 'utf8' });
    expect(conv).toMatch(/32 tensors converted to q8_0, 16 kept/);
    expect(conv).toMatch(/blk\.0\.ffn_down\.weight \(f32\): row length 172 is not a multiple of 32/);
  });
});
