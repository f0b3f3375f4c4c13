import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readGGUF } from '../../lib/model/gguf.js';
import { tokenizerFromGGUF } from '../../lib/model/tokenizer.js';

const fx = (n: string) => new URL(`../fixtures/${n}`, import.meta.url).pathname;

function golden(name: string): [string, number[]][] {
  const inp = readFileSync(fx(`${name}.inp`), 'utf8').split('\n__ggml_vocab_test__\n');
  const out = readFileSync(fx(`${name}.out`), 'utf8').split('\n');
  const pairs: [string, number[]][] = [];
  for (let i = 0; i < inp.length - 1; i++) pairs.push([inp[i]!, out[i]!.trim() ? out[i]!.trim().split(/\s+/).map(Number) : []]);
  return pairs;
}

describe.each(['ggml-vocab-llama-spm.gguf', 'ggml-vocab-gpt-2.gguf'])('tokenizer %s', (name) => {
  const tok = tokenizerFromGGUF(readGGUF(fx(name)));
  const pairs = golden(name);

  it("gives llama.cpp's token ids on its own test strings", () => {
    expect(pairs.length).toBe(46);
    for (const [text, ids] of pairs) expect(tok.encode(text, { addSpecial: false }), JSON.stringify(text)).toEqual(ids);
  });

  it('decodes back to the text', () => {
    for (const [text] of pairs) expect(tok.decode(tok.encode(text, { addSpecial: false }))).toBe(text);
  });

  it('adds BOS/EOS as the vocabulary says and parses special tokens only when asked', () => {
    const ids = tok.encode('Hello world');
    if (tok.addBos) expect(ids[0]).toBe(tok.bos);
    else expect(ids[0]).not.toBe(tok.bos);
    if (tok.model === 'llama') {
      expect(tok.encode('</s>', { addSpecial: false, parseSpecial: true })).toEqual([tok.eos]);
      expect(tok.encode('</s>', { addSpecial: false })).not.toContain(tok.eos);
    } else {
      expect(tok.encode('<|endoftext|>', { addSpecial: false, parseSpecial: true })).toEqual([50256]);
      expect(tok.encode('<|endoftext|>', { addSpecial: false }).length).toBeGreaterThan(1);
    }
    expect(tok.isEog(tok.eos!)).toBe(true);
    expect(() => tok.tokenBytes(tok.vocabSize)).toThrow(RangeError);
  });
});

describe('tiny Llama tokenizer', () => {
  it('encodes with byte fallback and BOS', () => {
    const tok = tokenizerFromGGUF(readGGUF(new URL('../../models/stories260K.gguf', import.meta.url).pathname));
    expect(tok.vocabSize).toBe(512);
    const ids = tok.encode('Once upon a time 🦙');
    expect(ids[0]).toBe(1);
    expect(tok.decode(ids)).toBe('Once upon a time 🦙');
    // the emoji is not in a 512-token vocabulary: four byte tokens <0xF0> <0x9F> <0xA6> <0x99>
    expect(ids.slice(-4).map((i) => tok.tokenBytes(i)[0])).toEqual([0xf0, 0x9f, 0xa6, 0x99]);
  });
});
