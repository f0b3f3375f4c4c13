/**
 * A tiny ONNX ModelProto encoder (protobuf wire format by hand) for one-node benchmark models:
 * MatMulInteger (u8 x s8 -> s32) and com.microsoft MatMulNBits. Field numbers from onnx.proto3.
 */

class Writer {
  private parts: Uint8Array[] = [];
  private len = 0;
  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.len += b.length;
  }
  varint(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    do {
      let byte = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) byte |= 0x80;
      out.push(byte);
    } while (x !== 0n);
    this.push(Uint8Array.from(out));
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  int(field: number, v: number): this {
    return this.tag(field, 0).varint(v);
  }
  bytes(field: number, b: Uint8Array): this {
    this.tag(field, 2).varint(b.length);
    this.push(b);
    return this;
  }
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  msg(field: number, w: Writer): this {
    return this.bytes(field, w.finish());
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.len);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

export const OnnxType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6 } as const;

export interface OnnxTensor {
  name: string;
  type: number;
  dims: number[];
  raw: Uint8Array;
}
export interface OnnxValue {
  name: string;
  type: number;
  /** A number is a fixed size, a string a symbolic one. */
  dims: (number | string)[];
}
export interface OnnxNode {
  op: string;
  domain?: string;
  inputs: string[];
  outputs: string[];
  intAttrs?: Record<string, number>;
}

function tensorProto(t: OnnxTensor): Writer {
  const w = new Writer();
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.type).str(8, t.name).bytes(9, t.raw);
  return w;
}

function valueInfo(v: OnnxValue): Writer {
  const shape = new Writer();
  for (const d of v.dims) shape.msg(1, typeof d === 'number' ? new Writer().int(1, d) : new Writer().str(2, d));
  const tensorType = new Writer().int(1, v.type).msg(2, shape);
  return new Writer().str(1, v.name).msg(2, new Writer().msg(1, tensorType));
}

/** Serializes a one-graph model (opsets: default 17, com.microsoft 1). */
export function onnxModel(g: { nodes: OnnxNode[]; initializers: OnnxTensor[]; inputs: OnnxValue[]; outputs: OnnxValue[] }): Uint8Array {
  const graph = new Writer();
  for (const n of g.nodes) {
    const node = new Writer();
    for (const i of n.inputs) node.str(1, i);
    for (const o of n.outputs) node.str(2, o);
    node.str(3, `${n.op}_0`).str(4, n.op);
    for (const [name, v] of Object.entries(n.intAttrs ?? {})) node.msg(5, new Writer().str(1, name).int(3, v).int(20, 2));
    if (n.domain) node.str(7, n.domain);
    graph.msg(1, node);
  }
  graph.str(2, 'bench');
  for (const t of g.initializers) graph.msg(5, tensorProto(t));
  for (const v of g.inputs) graph.msg(11, valueInfo(v));
  for (const v of g.outputs) graph.msg(12, valueInfo(v));
  const model = new Writer().int(1, 8).str(2, 'bitflash-bench');
  model.msg(7, graph);
  model.msg(8, new Writer().str(1, '').int(2, 17));
  model.msg(8, new Writer().str(1, 'com.microsoft').int(2, 1));
  return model.finish();
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Y[M, N] int32 = (A[M, K] uint8 - 128) x B[K, N] int8 (B = w^T). */
export function matMulIntegerModel(wq: Int8Array, n: number, k: number): Uint8Array {
  const bt = new Int8Array(k * n);
  for (let r = 0; r < n; r++) for (let j = 0; j < k; j++) bt[j * n + r] = wq[r * k + j]!;
  return onnxModel({
    nodes: [{ op: 'MatMulInteger', inputs: ['A', 'B', 'a_zp'], outputs: ['Y'] }],
    initializers: [
      { name: 'B', type: OnnxType.INT8, dims: [k, n], raw: bytesOf(bt) },
      { name: 'a_zp', type: OnnxType.UINT8, dims: [], raw: Uint8Array.of(128) },
    ],
    inputs: [{ name: 'A', type: OnnxType.UINT8, dims: ['M', k] }],
    outputs: [{ name: 'Y', type: OnnxType.INT32, dims: ['M', n] }],
  });
}

/** Y[M, N] f32 = A[M, K] f32 x dequant(B)^T with MatMulNBits (4 bits, block 32..128, accuracy_level). */
export function matMulNBitsModel(
  w: { data: Uint8Array; scales: Float32Array; zeroPoints?: Uint8Array | undefined },
  n: number,
  k: number,
  blockSize: number,
  accuracyLevel: number,
): Uint8Array {
  const kb = Math.ceil(k / blockSize);
  const inits: OnnxTensor[] = [
    { name: 'B', type: OnnxType.UINT8, dims: [n, kb, blockSize / 2], raw: w.data },
    { name: 'scales', type: OnnxType.FLOAT, dims: [n * kb], raw: bytesOf(w.scales) },
  ];
  const inputs = ['A', 'B', 'scales'];
  if (w.zeroPoints) {
    inits.push({ name: 'zp', type: OnnxType.UINT8, dims: [w.zeroPoints.length], raw: w.zeroPoints });
    inputs.push('zp');
  }
  return onnxModel({
    nodes: [{ op: 'MatMulNBits', domain: 'com.microsoft', inputs, outputs: ['Y'], intAttrs: { K: k, N: n, bits: 4, block_size: blockSize, accuracy_level: accuracyLevel } }],
    initializers: inits,
    inputs: [{ name: 'A', type: OnnxType.FLOAT, dims: ['M', k] }],
    outputs: [{ name: 'Y', type: OnnxType.FLOAT, dims: ['M', n] }],
  });
}

/**
 * A one-node float model over X[rows, cols] (f32 -> f32): Softmax (axis -1), com.microsoft Gelu, or
 * LayerNormalization (axis -1, epsilon 1e-5, Scale = gamma, B = beta), for `bitflash bench dyadic`.
 */
export function floatOpModel(op: 'Softmax' | 'Gelu' | 'LayerNormalization', rows: number, cols: number, gamma?: Float32Array, beta?: Float32Array): Uint8Array {
  const inits: OnnxTensor[] = [];
  const inputs = ['X'];
  if (op === 'LayerNormalization') {
    const g = gamma ?? new Float32Array(cols).fill(1);
    const b = beta ?? new Float32Array(cols);
    inits.push({ name: 'scale', type: OnnxType.FLOAT, dims: [cols], raw: bytesOf(g) }, { name: 'bias', type: OnnxType.FLOAT, dims: [cols], raw: bytesOf(b) });
    inputs.push('scale', 'bias');
  }
  return onnxModel({
    nodes: [{ op, ...(op === 'Gelu' ? { domain: 'com.microsoft' } : {}), inputs, outputs: ['Y'], ...(op === 'Gelu' ? {} : { intAttrs: { axis: -1 } }) }],
    initializers: inits,
    inputs: [{ name: 'X', type: OnnxType.FLOAT, dims: [rows, cols] }],
    outputs: [{ name: 'Y', type: OnnxType.FLOAT, dims: [rows, cols] }],
  });
}
