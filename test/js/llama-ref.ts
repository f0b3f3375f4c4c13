/** A float64 reference forward pass of the Llama family (llama / qwen2), written independently of the executor. */

export interface RefWeights {
  get(name: string): Float64Array | undefined;
}

export interface RefHParams {
  nEmbd: number; nLayers: number; nHead: number; nHeadKv: number; nFf: number; nVocab: number;
  nRot: number; ropeBase: number; ropeFreqScale: number; neox: boolean; eps: number;
}

function matvec(w: Float64Array, x: Float64Array, n: number, k: number): Float64Array {
  const y = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let j = 0; j < k; j++) s += w[r * k + j]! * x[j]!;
    y[r] = s;
  }
  return y;
}

function rmsnorm(x: Float64Array, g: Float64Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const s = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * s * g[i]!);
}

function rope(v: Float64Array, heads: number, hd: number, nRot: number, pos: number, base: number, scale: number, neox: boolean): void {
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < nRot / 2; i++) {
      const theta = pos * scale * Math.pow(base, (-2 * i) / nRot);
      const c = Math.cos(theta), s = Math.sin(theta);
      const i0 = h * hd + (neox ? i : 2 * i), i1 = h * hd + (neox ? i + nRot / 2 : 2 * i + 1);
      const a = v[i0]!, b = v[i1]!;
      v[i0] = a * c - b * s;
      v[i1] = a * s + b * c;
    }
  }
}

/** Logits [tokens.length, vocab] for tokens at positions 0.. */
export function referenceLogits(hp: RefHParams, W: RefWeights, tokens: number[]): Float64Array[] {
  const w = (n: string) => {
    const v = W.get(n);
    if (!v) throw new Error(`missing ${n}`);
    return v;
  };
  const hd = hp.nEmbd / hp.nHead, kvd = hp.nHeadKv * hd;
  const K: Float64Array[][] = [], V: Float64Array[][] = [];
  for (let l = 0; l < hp.nLayers; l++) { K.push([]); V.push([]); }
  const out: Float64Array[] = [];
  tokens.forEach((tok, pos) => {
    let x = Float64Array.from(w('token_embd.weight').subarray(tok * hp.nEmbd, (tok + 1) * hp.nEmbd));
    for (let l = 0; l < hp.nLayers; l++) {
      const p = `blk.${l}.`;
      const h = rmsnorm(x, w(`${p}attn_norm.weight`), hp.eps);
      const q = matvec(w(`${p}attn_q.weight`), h, hp.nEmbd, hp.nEmbd);
      const k = matvec(w(`${p}attn_k.weight`), h, kvd, hp.nEmbd);
      const v = matvec(w(`${p}attn_v.weight`), h, kvd, hp.nEmbd);
      for (const [t, name] of [[q, 'q'], [k, 'k'], [v, 'v']] as const) {
        const b = W.get(`${p}attn_${name}.bias`);
        if (b) for (let i = 0; i < t.length; i++) t[i]! += b[i]!;
      }
      rope(q, hp.nHead, hd, hp.nRot, pos, hp.ropeBase, hp.ropeFreqScale, hp.neox);
      rope(k, hp.nHeadKv, hd, hp.nRot, pos, hp.ropeBase, hp.ropeFreqScale, hp.neox);
      K[l]!.push(k);
      V[l]!.push(v);
      const att = new Float64Array(hp.nEmbd);
      const group = hp.nHead / hp.nHeadKv;
      for (let hh = 0; hh < hp.nHead; hh++) {
        const kvh = Math.floor(hh / group);
        const sc = K[l]!.map((kk) => {
          let d = 0;
          for (let e = 0; e < hd; e++) d += q[hh * hd + e]! * kk[kvh * hd + e]!;
          return d / Math.sqrt(hd);
        });
        const mx = Math.max(...sc);
        const ex = sc.map((s) => Math.exp(s - mx));
        const sum = ex.reduce((a, b) => a + b, 0);
        for (let j = 0; j < ex.length; j++) for (let e = 0; e < hd; e++) att[hh * hd + e]! += (ex[j]! / sum) * V[l]![j]![kvh * hd + e]!;
      }
      const o = matvec(w(`${p}attn_output.weight`), att, hp.nEmbd, hp.nEmbd);
      x = x.map((v2, i) => v2 + o[i]!);
      const h2 = rmsnorm(x, w(`${p}ffn_norm.weight`), hp.eps);
      const gg = matvec(w(`${p}ffn_gate.weight`), h2, hp.nFf, hp.nEmbd);
      const uu = matvec(w(`${p}ffn_up.weight`), h2, hp.nFf, hp.nEmbd);
      const ff = gg.map((a, i) => (a / (1 + Math.exp(-a))) * uu[i]!);
      const d = matvec(w(`${p}ffn_down.weight`), ff, hp.nEmbd, hp.nFf);
      x = x.map((v2, i) => v2 + d[i]!);
    }
    const xn = rmsnorm(x, w('output_norm.weight'), hp.eps);
    out.push(matvec(W.get('output.weight') ?? w('token_embd.weight'), xn, hp.nVocab, hp.nEmbd));
  });
  return out;
}
