/**
 * llama.cpp itself as an oracle, through node-llama-cpp's prebuilt CPU binary (installed by .ci/run, not a
 * dependency: the registry here lacks its other-platform packages, which npm ci would insist on). Excluded
 * from test/tsconfig.json so the type check passes where it is not installed.
 *
 * - Tokenizer: ~200 deterministic strings per vocabulary must give llama.cpp's token ids.
 * - Logits: stories260K (f32) evaluated by both engines must agree position by position, and greedy
 *   decoding from BOS must give the same 32 tokens.
 *
 * Nothing is downloaded or compiled: `build: 'never'` + `skipDownload: true`. When the prebuilt
 * binary is absent or cannot load on this machine (other OS/libc, install without optional deps),
 * the suite skips with the reason printed. BITFLASH_REQUIRE_ORACLE=1 turns that skip into a failure
 * (for CI jobs that must run the oracle).
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { readGGUF } from '../../lib/model/gguf.js';
import { loadModel } from '../../lib/model/model.js';
import { argmax } from '../../lib/model/sampling.js';
import { tokenizerFromGGUF } from '../../lib/model/tokenizer.js';

const here = (p: string) => new URL(p, import.meta.url).pathname;
const fx = (n: string) => here(`../fixtures/${n}`);
const TINY = here('../../models/stories260K.gguf');

import type { ControlledEvaluateInputItem, Token } from 'node-llama-cpp';

type NLC = typeof import('node-llama-cpp');
type Llama = Awaited<ReturnType<NLC['getLlama']>>;

// ---- load the oracle (top-level await: describe.skipIf needs the answer at collection time) ----
let nlc: NLC | undefined;
let llama: Llama | undefined;
let skipReason = '';
try {
  nlc = await import('node-llama-cpp');
  llama = await nlc.getLlama({
    gpu: false, // the CPU prebuilt (@node-llama-cpp/linux-x64 etc.): no CUDA/Vulkan probing
    build: 'never', // never compile llama.cpp
    skipDownload: true, // never fetch its sources
    usePrebuiltBinaries: true,
    progressLogs: false,
    logLevel: nlc.LlamaLogLevel.disabled,
    maxThreads: 2,
  });
} catch (e) {
  const err = e as Error;
  skipReason = `node-llama-cpp's prebuilt CPU binary could not be loaded (${err.name}: ${err.message}); install it with: npm install --no-save --ignore-scripts node-llama-cpp@3.22.1 (as .ci/run does)`;
}
if (skipReason) {
  if (process.env.BITFLASH_REQUIRE_ORACLE === '1') throw new Error(skipReason);
  console.warn(`[oracle-llama-cpp] skipped: ${skipReason}`);
}

afterAll(async () => {
  await llama?.dispose();
});

// ---- deterministic test strings ----
function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const POOLS: Record<string, string[]> = {
  ascii: ['Hello', 'world', 'the', 'quick', 'brown', 'fox', 'jumps', 'Once', 'upon', 'a', 'time', 'Lily', "don't", "we'll", "it's", 'I', 'NASA', 'camelCase', 'snake_case', 'x'],
  latin: ['café', 'naïve', 'Straße', 'façade', 'Ångström', 'señor', 'œuvre', 'Łódź', 'ﬁne', 'Ǆ'],
  scripts: ['Привет', 'мир', 'Γειά σου', '日本語', '漢字', '中文测试', '한국어', 'نص عربي', 'עברית', 'नमस्ते', 'ภาษาไทย', 'ქართული', 'Ελληνικά'],
  emoji: ['🦙', '😀', '👍🏽', '👨‍👩‍👧‍👦', '🇫🇷', '❤️', '🧪🧬', '⭐', '🙂🙃'],
  space: [' ', '  ', '   ', '\t', '\n', '\n\n', '\r\n', ' \n ', '\t\t  ', '\u00a0', '\u3000', '          '],
  digits: ['0', '7', '42', '123', '1234', '12345678', '3.14159', '1,000,000', '2026-11-25', '0x1F', '1e-9', '٣٤٥', '１２３'],
  punct: ['.', ',', '!', '?', '...', '—', '–', '«', '»', '"', "'", '(', ')', '[]', '{}', '<>', '#', '@', '&&', '||', '::', '->', '!=', '%', '$', '€', '©', '¿'],
  long: ['supercalifragilisticexpialidocious', 'Donaudampfschifffahrtsgesellschaftskapitän', 'pneumonoultramicroscopicsilicovolcanoconiosis', 'a'.repeat(40), 'ab'.repeat(25), 'z'.repeat(7)],
  special: ['</s>', '<s>', '<unk>', '<|endoftext|>', '[INST]', '<0x41>', '▁', 'Ġ'],
};
const KINDS = Object.keys(POOLS);

function randomStrings(n: number, seed: number): string[] {
  const r = mulberry32(seed);
  const pick = <T>(a: readonly T[]) => a[Math.floor(r() * a.length)]!;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const parts = 1 + Math.floor(r() * 8);
    let s = '';
    for (let j = 0; j < parts; j++) {
      const k = pick(KINDS);
      s += pick(POOLS[k]!);
      if (k !== 'space' && r() < 0.6) s += ' ';
    }
    if (r() < 0.2) s = ' ' + s;
    if (r() < 0.15) s = s.trimEnd();
    out.push(s);
  }
  return out;
}

function goldenInputs(name: string): string[] {
  return readFileSync(fx(`${name}.inp`), 'utf8').split('\n__ggml_vocab_test__\n').slice(0, -1);
}

const HANDWRITTEN = [
  ' ', '  ', ' a', 'a ', ' a ', '\n', '\n\n\n', '\t', ' \t\n', 'Hello', ' Hello', 'Hello ', '  Hello  world  ',
  'Hello\nworld', 'Hello\n\nworld', 'Hello\r\nworld', '1', '11', '111', '1111', '11111', '123456789',
  '3333333333333333', 'a1b2c3', "I'm", "I'M", "you're", "YOU'RE", 'e.g.', '.', '...', '?!', '🦙🦙🦙', ' 🦙', '🦙 ',
  'Ünïcödé', 'ǅ', '\u0301', 'e\u0301', '\ufeff', '\u200b', '\u200d', 'a\u0000b', '\x7f', '\u{10ffff}', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  '<s>Hello</s>', 'x'.repeat(300), ' '.repeat(33), 'Hello world'.repeat(20),
];

const ALL_GOLDEN = [...goldenInputs('ggml-vocab-llama-spm.gguf'), ...goldenInputs('ggml-vocab-gpt-2.gguf')];
const PAIRS: string[] = [];
for (let i = 0; i + 1 < ALL_GOLDEN.length; i += 2) PAIRS.push(ALL_GOLDEN[i]! + ALL_GOLDEN[i + 1]!);
/** ~200 strings: handwritten edge cases, golden .inp strings concatenated in pairs, seeded random mixes. */
const TEXTS = [...HANDWRITTEN, ...PAIRS, ...randomStrings(200 - HANDWRITTEN.length - PAIRS.length, 20261125)];

/**
 * Known differences between our tokenizer and llama.cpp's, per vocabulary: text -> reason.
 * Each must still differ (so that a fix is noticed and the entry removed).
 */
const KNOWN_DIFF: Record<string, Map<string, string>> = {
  'ggml-vocab-llama-spm.gguf': new Map(),
  'ggml-vocab-gpt-2.gguf': new Map(),
  'stories260K.gguf': new Map(),
};

/** Control/unknown/user-defined token texts embedded in ordinary text, for the parseSpecial comparison. */
const SPECIAL_TEXTS = ['<s>', '</s>', '<unk>', '<|endoftext|>'].flatMap((t) => [
  t, ` ${t} `, `Hello${t}world`, `${t}${t}`, `a ${t}\n${t} b`, `${t} Once upon a time`, `\n\n${t}`, `${t}🦙`,
]);

/**
 * Known parseSpecial difference (our bug, reported to the lead; lib/model/tokenizer.ts left as is):
 * llama.cpp also matches UNKNOWN-type tokens ("<unk>", id 0 in the Llama vocabularies) in the text
 * when special tokens are parsed (its special-token cache holds CONTROL | USER_DEFINED | UNKNOWN),
 * e.g. SPM " <unk> " -> llama.cpp [259, 0, 259], ours [29871, 529, 2960, 29958, 29871]; ours only
 * collects CONTROL and USER_DEFINED tokens as specials. GPT-2 has no <unk>, so it is unaffected.
 */
function knownParseSpecialDiff(_name: string, _text: string): string | undefined {
  // None left: <unk> (UNKNOWN type) is now parsed as a special token, as llama.cpp does.
  return undefined;
}

describe.skipIf(!llama)(`llama.cpp oracle (node-llama-cpp)${skipReason ? ` — SKIPPED: ${skipReason}` : ''}`, () => {
  describe.each([
    ['ggml-vocab-llama-spm.gguf', fx('ggml-vocab-llama-spm.gguf')],
    ['ggml-vocab-gpt-2.gguf', fx('ggml-vocab-gpt-2.gguf')],
    ['stories260K.gguf', TINY],
  ])('tokenizer %s', (name, file) => {
    it(`gives llama.cpp's ids on ${TEXTS.length} varied strings (no BOS, specials as text), and its detokenized text`, async () => {
      expect(TEXTS.length).toBeGreaterThanOrEqual(190);
      const ours = tokenizerFromGGUF(readGGUF(file));
      // vocabOnly: the vocab GGUFs have no tensors; llama.cpp loads only the vocabulary
      const theirs = await llama!.loadModel({ modelPath: file, vocabOnly: true, gpuLayers: 0 });
      try {
        const known = KNOWN_DIFF[name]!;
        const mismatches: { text: string; ours: number[]; llama: number[] }[] = [];
        for (const text of TEXTS) {
          const a = ours.encode(text, { addSpecial: false });
          const b = theirs.tokenize(text, false).map(Number);
          const same = a.length === b.length && a.every((x, i) => x === b[i]);
          if (known.has(text)) expect(same, `known difference now matches, remove it from KNOWN_DIFF: ${JSON.stringify(text)}`).toBe(false);
          else if (!same) mismatches.push({ text, ours: a, llama: b });
        }
        expect(mismatches, JSON.stringify(mismatches, null, 1)).toEqual([]);
        // and the same text back from the ids (llama.cpp's detokenizer, specials not rendered)
        const decodeMismatches: { text: string; ours: string; llama: string }[] = [];
        for (const text of TEXTS) {
          const ids = ours.encode(text, { addSpecial: false });
          const a = ours.decode(ids);
          const b = theirs.detokenize(ids as Token[], false);
          if (a === b) continue;
          // GPT-2: llama.cpp's detokenizer applies clean_spaces (HF clean_up_tokenization_spaces: drops the
          // space before ? ! . , and some apostrophes); ours is byte-exact (decode(encode(t)) === t). Accept
          // differences in spaces only, llama.cpp's being the shorter.
          if (name === 'ggml-vocab-gpt-2.gguf' && b.length < a.length && a.replaceAll(' ', '') === b.replaceAll(' ', '')) continue;
          decodeMismatches.push({ text, ours: a, llama: b });
        }
        expect(decodeMismatches, JSON.stringify(decodeMismatches, null, 1)).toEqual([]);
      } finally {
        await theirs.dispose();
      }
    });

    it('with parseSpecial, matches llama.cpp on text that embeds special tokens', async () => {
      const ours = tokenizerFromGGUF(readGGUF(file));
      const theirs = await llama!.loadModel({ modelPath: file, vocabOnly: true, gpuLayers: 0 });
      try {
        const mismatches: { text: string; ours: number[]; llama: number[] }[] = [];
        let knownSeen = 0;
        for (const text of [...SPECIAL_TEXTS, ...TEXTS]) {
          const a = ours.encode(text, { addSpecial: false, parseSpecial: true });
          const b = theirs.tokenize(text, true).map(Number);
          const same = a.length === b.length && a.every((x, i) => x === b[i]);
          const known = knownParseSpecialDiff(name, text);
          if (known) {
            knownSeen++;
            expect(same, `known difference now matches (${known}), update knownParseSpecialDiff: ${JSON.stringify(text)}`).toBe(false);
          } else if (!same) mismatches.push({ text, ours: a, llama: b });
        }
        expect(mismatches, JSON.stringify(mismatches, null, 1)).toEqual([]);
        expect(knownSeen).toBe(0);
      } finally {
        await theirs.dispose();
      }
    });
  });

  describe('stories260K logits and greedy decoding', () => {
    // BOS + "Once upon a time, there was a little" style ids (all < 512), 17 tokens in all.
    const TOKENS = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338];
    /**
     * Both sides are f32 weights, f32 activations and an f32 KV cache; only the summation order
     * (SIMD widths, blocking, threads) differs, so differences are rounding only. Measured on the dev
     * machine (x86-64, AVX-512): max |diff| 6.7e-6 on a logit scale of 20.5, i.e. 3.3e-7 relative.
     * Tolerance 1e-5 * max|logit| (~2e-4 absolute here): 30x margin for other CPUs/ISAs, yet well
     * below what a real precision loss gives: llama.cpp's default f16 KV cache alone makes it 5.9e-4
     * relative (1.2e-2 absolute), which this tolerance rejects.
     */
    const REL_TOL = 1e-5;
    /** llama.cpp defaults to an f16 KV cache; ours here is f32, so ask for f32 K and V (and no flash attention). */
    const F32_CTX = {
      contextSize: 64, batchSize: 64, sequences: 1, threads: 1,
      flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32',
    } as const;

    it('per-position logits agree with llama.cpp (same argmax, max |diff| within tolerance)', async () => {
      using ours = await loadModel(TINY, { nCtx: 64 });
      const V = ours.hparams.nVocab;
      const mine = await ours.logits(TOKENS);
      const model = await llama!.loadModel({ modelPath: TINY, gpuLayers: 0 });
      const ctx = await model.createContext(F32_CTX);
      try {
        const seq = ctx.getSequence();
        const input: ControlledEvaluateInputItem[] = TOKENS.map((t) => [t as Token, { generateNext: { logits: true } }]);
        const res = await seq.controlledEvaluate(input);
        let maxAbs = 0;
        let scale = 0;
        for (let p = 0; p < TOKENS.length; p++) {
          const lm = res[p]?.next.logits;
          expect(lm, `no logits from llama.cpp at position ${p}`).toBeDefined();
          expect(lm!.size).toBe(V);
          const theirs = new Float32Array(V);
          for (const [tok, v] of lm!) theirs[tok] = v;
          const row = mine.subarray(p * V, (p + 1) * V);
          expect(argmax(row), `argmax at position ${p}`).toBe(argmax(theirs));
          for (let i = 0; i < V; i++) {
            maxAbs = Math.max(maxAbs, Math.abs(row[i]! - theirs[i]!));
            scale = Math.max(scale, Math.abs(theirs[i]!));
          }
        }
        console.log(`[oracle-llama-cpp] stories260K logits: max |ours - llama.cpp| = ${maxAbs.toExponential(3)} over ${TOKENS.length}x${V}, logit scale ${scale.toFixed(3)}, relative ${(maxAbs / scale).toExponential(3)}`);
        expect(maxAbs).toBeLessThan(REL_TOL * scale);
      } finally {
        await ctx.dispose();
        await model.dispose();
      }
    });

    it('greedy decoding of 32 tokens from BOS gives the same ids', async () => {
      using ours = await loadModel(TINY, { nCtx: 64 });
      const mine: number[] = [];
      for await (const t of ours.generate('', { temperature: 0, repeatPenalty: 1, maxTokens: 32 })) mine.push(t.id);
      const model = await llama!.loadModel({ modelPath: TINY, gpuLayers: 0 });
      const ctx = await model.createContext(F32_CTX);
      try {
        const seq = ctx.getSequence();
        const theirs: number[] = [];
        // temperature 0 is llama.cpp's greedy sampler; no repeat penalty is applied unless asked
        for await (const t of seq.evaluate([model.tokens.bos!], { temperature: 0 })) {
          theirs.push(Number(t));
          if (theirs.length === 32) break;
        }
        expect(mine).toHaveLength(32);
        expect(mine).toEqual(theirs);
      } finally {
        await ctx.dispose();
        await model.dispose();
      }
    });
  });
});
