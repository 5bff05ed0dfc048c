/**
 * Parameters: PyTorch's default initialisation, state-dict validation, and the packing
 * between PyTorch's layout (per name, row-major) and the GPU layout of each layer:
 *   wih  [D·G·H, I_l]  weight_ih of both directions stacked, so one GEMM projects both
 *   bih  [D·G·H]       bias_ih stacked (zeros without bias)
 *   whhT [D, H, H, P]  weight_hh transposed per direction: element (d, k, j, g) is
 *                      weight_hh[g·H + j, k]; P = 4 (a unit's gates in one vec4, zero-padded
 *                      for the GRU) or 1 for the Elman cell (packedGateStride)
 *   bhh  [D, G·H]      bias_hh (zeros without bias), then with peepholes P [D, 3H] (i, f, o)
 * An LSTM layer with a projection (projSize P) runs as the LSTM over r_t = o_t ⊙ tanh(c_t)
 * whose recurrent weight is W_hh·W_hr [4H, H] (h_{t−1} = W_hr r_{t−1}): whhT holds that
 * product, and the layer's own weights are kept beside it:
 *   whh  [D, G·H, P]   weight_hh as it is
 *   whr  [D, P, H]     weight_hr
 */
import { ShapeError, WebRnnError } from '../errors.js';
import { checkFinite } from '../arrays.js';
import { createRandom } from './random.js';
import { bhhBufferSize, gateCount, layerInputSize, outputWidth, packedGateStride, parameterInfo, parameterName, type ModelSpec } from './spec.js';

export type StateDict = Record<string, Float32Array>;

/**
 * PyTorch's defaults, drawn in parameterInfo order from `seed`: every recurrent parameter of
 * a layer U(−1/√H, 1/√H), H that layer's; the read-out (nn.Linear) U(−1/√(D·H), 1/√(D·H)); the embedding
 * (nn.Embedding) N(0, 1), its padding row zeros.
 */
export function defaultParameters(spec: ModelSpec, seed: number): StateDict {
  const rng = createRandom(seed);
  const dict: StateDict = {};
  for (const p of parameterInfo(spec)) {
    const readout = p.role === 'readout_weight' || p.role === 'readout_bias';
    const k = 1 / Math.sqrt(readout ? outputWidth(spec) : p.role === 'embedding' ? 1 : spec.layers[p.layer].hiddenSize);
    const n = p.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (p.role === 'embedding') {
      for (let i = 0; i < n; i++) data[i] = rng.normal();
      const pad = spec.embedding!.paddingIdx;
      if (pad !== null) data.fill(0, pad * spec.inputSize, (pad + 1) * spec.inputSize);
    } else for (let i = 0; i < n; i++) data[i] = rng.range(-k, k);
    dict[p.name] = data;
  }
  return dict;
}


/**
 * Check a full state dict against the model: no unknown name, no missing name, every tensor a
 * Float32Array of the right length (and finite when asked). Nothing is changed here, so a
 * failing dict leaves the model as it was.
 */
export function validateStateDict(spec: ModelSpec, dict: Readonly<Record<string, unknown>>, finite: boolean): void {
  if (dict === null || typeof dict !== 'object') throw new WebRnnError('state-dict', 'loadStateDict: an object of Float32Arrays expected');
  const infos = parameterInfo(spec);
  const known = new Set(infos.map((p) => p.name));
  const unknown = Object.keys(dict).filter((n) => !known.has(n));
  const missing = infos.map((p) => p.name).filter((n) => !(n in dict));
  if (unknown.length || missing.length) {
    const parts = [];
    if (unknown.length) parts.push(`unknown ${unknown.map((n) => `'${n}'`).join(', ')}`);
    if (missing.length) parts.push(`missing ${missing.map((n) => `'${n}'`).join(', ')}`);
    throw new WebRnnError('state-dict', `loadStateDict: ${parts.join('; ')} (expected exactly: ${[...known].join(', ')})`);
  }
  for (const p of infos) {
    const v = dict[p.name];
    if (!(v instanceof Float32Array)) {
      throw new WebRnnError('state-dict', `loadStateDict: ${p.name} must be a Float32Array, got ${Object.prototype.toString.call(v)}`);
    }
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (v.length !== n) throw new ShapeError(p.name, p.shape, [v.length], 'row-major data of that shape expected');
    if (finite) checkFinite(p.name, v);
  }
}

/** One layer's parameters in the GPU layout described at the top of this file. */
export interface PackedLayer {
  wih: Float32Array;
  bih: Float32Array;
  whhT: Float32Array;
  bhh: Float32Array;
  /** A projecting layer's weight_hh [D, G·H, P] and weight_hr [D, P, H]. */
  whh?: Float32Array;
  whr?: Float32Array;
}

/** W_hh·W_hr [G·H, H] of a projecting layer, in float64 and rounded once: the recurrent weight of r. */
export function projectedRecurrence(whh: ArrayLike<number>, whr: ArrayLike<number>, GH: number, P: number, H: number): Float32Array {
  const out = new Float32Array(GH * H);
  for (let r = 0; r < GH; r++) {
    for (let k = 0; k < H; k++) {
      let acc = 0;
      for (let q = 0; q < P; q++) acc += whh[r * P + q] * whr[q * H + k];
      out[r * H + k] = acc;
    }
  }
  return out;
}

export function packLayer(spec: ModelSpec, dict: Readonly<StateDict>, l: number): PackedLayer {
  const { kind, hiddenSize: H, numDirections: D, projSize: R } = spec.layers[l];
  const G = gateCount(kind);
  const I = layerInputSize(spec, l);
  const GH = G * H;
  const P = packedGateStride(G);
  const wih = new Float32Array(D * GH * I);
  const bih = new Float32Array(D * GH);
  const whhT = new Float32Array(D * H * H * P);
  const bhh = new Float32Array(bhhBufferSize(spec, l));
  const own = R ? { whh: new Float32Array(D * GH * R), whr: new Float32Array(D * R * H) } : {};
  for (let d = 0; d < D; d++) {
    if (spec.peepholes) bhh.set(dict[parameterName('peephole', l, d)], D * GH + d * 3 * H);
    wih.set(dict[parameterName('weight_ih', l, d)], d * GH * I);
    let whh = dict[parameterName('weight_hh', l, d)];
    if (own.whh && own.whr) {
      const whr = dict[parameterName('weight_hr', l, d)];
      own.whh.set(whh, d * GH * R);
      own.whr.set(whr, d * R * H);
      whh = projectedRecurrence(whh, whr, GH, R, H);
    }
    for (let g = 0; g < G; g++) {
      for (let j = 0; j < H; j++) {
        for (let k = 0; k < H; k++) whhT[((d * H + k) * H + j) * P + g] = whh[(g * H + j) * H + k];
      }
    }
    if (spec.bias) {
      bih.set(dict[parameterName('bias_ih', l, d)], d * GH);
      bhh.set(dict[parameterName('bias_hh', l, d)], d * GH);
    }
  }
  return { wih, bih, whhT, bhh, ...own };
}

/** Inverse of {@link packLayer}: add layer `l`'s tensors, in PyTorch layout, to `dict`. */
export function unpackLayer(spec: ModelSpec, packed: PackedLayer, l: number, dict: StateDict): void {
  const { kind, hiddenSize: H, numDirections: D, projSize: R } = spec.layers[l];
  const G = gateCount(kind);
  const I = layerInputSize(spec, l);
  const GH = G * H;
  const P = packedGateStride(G);
  for (let d = 0; d < D; d++) {
    dict[parameterName('weight_ih', l, d)] = packed.wih.slice(d * GH * I, (d + 1) * GH * I);
    if (R) {
      // A projecting layer's own weights (whhT holds their product).
      dict[parameterName('weight_hh', l, d)] = packed.whh!.slice(d * GH * R, (d + 1) * GH * R);
      dict[parameterName('weight_hr', l, d)] = packed.whr!.slice(d * R * H, (d + 1) * R * H);
    } else {
      const whh = new Float32Array(GH * H);
      for (let g = 0; g < G; g++) {
        for (let j = 0; j < H; j++) {
          for (let k = 0; k < H; k++) whh[(g * H + j) * H + k] = packed.whhT[((d * H + k) * H + j) * P + g];
        }
      }
      dict[parameterName('weight_hh', l, d)] = whh;
    }
    if (spec.bias) {
      dict[parameterName('bias_ih', l, d)] = packed.bih.slice(d * GH, (d + 1) * GH);
      dict[parameterName('bias_hh', l, d)] = packed.bhh.slice(d * GH, (d + 1) * GH);
    }
    if (spec.peepholes) dict[parameterName('peephole', l, d)] = packed.bhh.slice(D * GH + d * 3 * H, D * GH + (d + 1) * 3 * H);
  }
}

