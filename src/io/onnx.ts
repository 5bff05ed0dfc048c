/**
 * ONNX's recurrent operators (RNN, LSTM, GRU): attributes resolved into webrnn's model options,
 * weights converted to PyTorch-named tensors, and one node run on the GPU with ONNX's shapes
 * and layouts. This is the only place where gate orders change: ONNX's LSTM blocks are
 * i, o, f, c and its GRU blocks z, r, h; PyTorch's (and webrnn's) are i, f, g, o and r, z, n.
 *
 * Supported: every attribute of the three operators: direction forward, reverse and
 * bidirectional; layout 0 and 1; linear_before_reset 0 and 1; sequence_lens; initial_h and
 * initial_c; peepholes P; clip; input_forget; the activations Sigmoid, Tanh, Relu,
 * HardSigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, Elu, Softsign and Softplus
 * with their alpha and beta, per direction. Anything else is refused with an error naming it.
 */
import type { StackOptions } from '../spec/stack.js';
import { ShapeError, WebRnnError } from '../errors.js';
import type { RecurrentModel } from '../model/recurrent-model.js';
import { resolveCellFunction, type CellFunction, type CellFunctionName, type CellOptions } from '../spec/cell-functions.js';
import type { CellKind, GruOptions, LstmOptions, RnnOptions } from '../spec/spec.js';
import type { OnnxAttribute, OnnxNode } from './onnx-proto.js';
import { checkFinite } from '../arrays.js';

/** What the ONNX models make their recurrent models with (an Engine is one). */
export interface ModelFactory {
  rnn(options: RnnOptions): RecurrentModel;
  lstm(options: LstmOptions): RecurrentModel;
  gru(options: GruOptions): RecurrentModel;
  stack(options: StackOptions): RecurrentModel;
}

/** A value of an ONNX graph: dims and data (floats as Float32Array, integers as Float64Array or Int32Array). */
export interface OnnxValue {
  dims: number[];
  data: Float32Array | Float64Array | Int32Array;
}

export const RECURRENT_OPS: Readonly<Record<string, CellKind>> = { RNN: 'rnn', LSTM: 'lstm', GRU: 'gru' };
/** PyTorch block k takes ONNX block PERM[k]. */
const PERM: Record<CellKind, number[]> = { lstm: [0, 2, 3, 1], gru: [1, 0, 2], rnn: [0] };
const DEFAULT_ACTIVATIONS: Record<CellKind, string[]> = { lstm: ['Sigmoid', 'Tanh', 'Tanh'], gru: ['Sigmoid', 'Tanh'], rnn: ['Tanh'] };
const TAKES_ALPHA = ['hardsigmoid', 'affine', 'leakyrelu', 'thresholdedrelu', 'scaledtanh', 'elu'];
const TAKES_BETA = ['hardsigmoid', 'affine', 'scaledtanh'];
const KNOWN_ATTRIBUTES = ['hidden_size', 'direction', 'layout', 'activations', 'activation_alpha', 'activation_beta', 'clip', 'input_forget', 'linear_before_reset'];

function attr(node: OnnxNode, name: string): OnnxAttribute | undefined {
  return node.attribute.find((a) => a.name === name);
}

export function unsupported(node: OnnxNode, what: string): never {
  throw new WebRnnError('invalid-file', `onnx: ${node.opType} node '${node.name}': ${what} is not supported`);
}

/** A recurrent node's attributes, resolved and validated. */
export interface RecurrentNodeConfig {
  node: OnnxNode;
  kind: CellKind;
  hiddenSize: number;
  direction: 'forward' | 'reverse' | 'bidirectional';
  /** Directions D: 2 when bidirectional. */
  directions: 1 | 2;
  layout: 0 | 1;
  linearBeforeReset: boolean;
  cell: CellOptions;
}

/** Read and check a RNN, LSTM or GRU node's attributes. */
export function parseRecurrentNode(node: OnnxNode): RecurrentNodeConfig {
  const kind = RECURRENT_OPS[node.opType];
  if (!kind) unsupported(node, 'this operator');
  if (node.domain && node.domain !== 'ai.onnx') unsupported(node, `domain '${node.domain}'`);
  for (const a of node.attribute) if (!KNOWN_ATTRIBUTES.includes(a.name)) unsupported(node, `attribute '${a.name}'`);
  const hidden = attr(node, 'hidden_size');
  if (!hidden || !(hidden.i > 0) || !Number.isSafeInteger(hidden.i)) unsupported(node, 'a missing or non-positive hidden_size');
  const dir = attr(node, 'direction');
  const direction = dir ? new TextDecoder().decode(dir.s) : 'forward';
  if (direction !== 'forward' && direction !== 'reverse' && direction !== 'bidirectional') unsupported(node, `direction '${direction}'`);
  const layout = attr(node, 'layout')?.i ?? 0;
  if (layout !== 0 && layout !== 1) unsupported(node, `layout ${layout}`);
  if (kind !== 'lstm' && attr(node, 'input_forget')) unsupported(node, 'input_forget on a non-LSTM');
  if (kind !== 'gru' && attr(node, 'linear_before_reset')) unsupported(node, 'linear_before_reset on a non-GRU');
  const config: RecurrentNodeConfig = {
    node,
    kind,
    hiddenSize: hidden.i,
    direction,
    directions: direction === 'bidirectional' ? 2 : 1,
    layout,
    linearBeforeReset: (attr(node, 'linear_before_reset')?.i ?? 0) !== 0,
    cell: {},
  };
  config.cell = cellOptions(config);
  return config;
}

/**
 * The cell options from activations, activation_alpha/beta, clip and input_forget. Alpha and
 * beta values are consumed in the order of the activations by the functions that take them
 * (ONNX's convention), ONNX's defaults filling in where the lists end. Each direction has its
 * own functions.
 */
function cellOptions(c: RecurrentNodeConfig): CellOptions {
  const { node, kind, directions: D } = c;
  const per = DEFAULT_ACTIVATIONS[kind].length;
  const a = attr(node, 'activations');
  const names = a ? a.strings.map((x) => new TextDecoder().decode(x)) : [];
  if (names.length && names.length !== per * D) unsupported(node, `${names.length} activations for ${D} direction(s) (${per * D} expected)`);
  const alphas = [...(attr(node, 'activation_alpha')?.floats ?? [])];
  const betas = [...(attr(node, 'activation_beta')?.floats ?? [])];
  const functions: CellFunction[] = (names.length ? names : Array.from({ length: D }, () => DEFAULT_ACTIVATIONS[kind]).flat()).map((name) => {
    const lc = name.toLowerCase();
    const f: CellFunction = { name: name as CellFunctionName };
    if (TAKES_ALPHA.includes(lc) && alphas.length) f.alpha = alphas.shift();
    if (TAKES_BETA.includes(lc) && betas.length) f.beta = betas.shift();
    return f;
  });
  if (alphas.length || betas.length) unsupported(node, 'activation_alpha/activation_beta values that no activation takes');
  for (const f of functions) resolveCellFunction(f, `onnx ${node.opType} node '${node.name}'`);
  // Forward's functions first, then (bidirectional) the reverse direction's.
  const cell: CellOptions = { f: functions[0] };
  if (kind !== 'rnn') cell.g = functions[1];
  if (kind === 'lstm') cell.h = functions[2];
  if (D === 2) {
    cell.reverse = { f: functions[per] };
    if (kind !== 'rnn') cell.reverse.g = functions[per + 1];
    if (kind === 'lstm') cell.reverse.h = functions[per + 2];
  }
  const clip = attr(node, 'clip');
  if (clip) {
    if (!(clip.f > 0)) unsupported(node, `clip = ${clip.f}`);
    cell.clip = clip.f;
  }
  if ((attr(node, 'input_forget')?.i ?? 0) !== 0) cell.inputForget = true;
  return cell;
}

/** Gate blocks G of a config's operator. */
function gates(c: RecurrentNodeConfig): number {
  return PERM[c.kind].length;
}

function expectDims(name: string, v: OnnxValue, dims: number[]): void {
  if (v.dims.length !== dims.length || v.dims.some((d, i) => d !== dims[i])) throw new ShapeError(name, dims, v.dims);
}

/**
 * The PyTorch-named weights of one node as layer `layer` of a model: W [D, G·H, I] and
 * R [D, G·H, H] with their gate blocks reordered, B [D, 2·G·H] split into W's and R's biases,
 * P [D, 3·H] (ONNX's i, o, f) as our i, f, o. Returns the input size I too.
 */
export function nodeStateDict(c: RecurrentNodeConfig, layer: number, W: OnnxValue, R: OnnxValue, B?: OnnxValue, P?: OnnxValue): { inputSize: number; dict: Record<string, Float32Array> } {
  const H = c.hiddenSize;
  const D = c.directions;
  const G = gates(c);
  const I = W.dims[2];
  expectDims(`W of '${c.node.name}'`, W, [D, G * H, I]);
  if (!(I > 0)) throw new ShapeError(`W of '${c.node.name}'`, [D, G * H, 1], W.dims);
  expectDims(`R of '${c.node.name}'`, R, [D, G * H, H]);
  if (B) expectDims(`B of '${c.node.name}'`, B, [D, 2 * G * H]);
  if (P) expectDims(`P of '${c.node.name}'`, P, [D, 3 * H]);
  const block = (src: ArrayLike<number>, rows: number, cols: number, offset: number): Float32Array => {
    const out = new Float32Array(G * rows * cols);
    PERM[c.kind].forEach((from, to) => {
      for (let i = 0; i < rows * cols; i++) out[to * rows * cols + i] = src[offset + from * rows * cols + i];
    });
    return out;
  };
  const dict: Record<string, Float32Array> = {};
  for (let d = 0; d < D; d++) {
    const suffix = `_l${layer}${d === 1 ? '_reverse' : ''}`;
    dict[`weight_ih${suffix}`] = block(W.data, H, I, d * G * H * I);
    dict[`weight_hh${suffix}`] = block(R.data, H, H, d * G * H * H);
    const bias = B ? B.data : new Float32Array(D * 2 * G * H);
    dict[`bias_ih${suffix}`] = block(bias, H, 1, d * 2 * G * H);
    dict[`bias_hh${suffix}`] = block(bias, H, 1, d * 2 * G * H + G * H);
    if (P) {
      const p = new Float32Array(3 * H);
      [0, 2, 1].forEach((from, to) => p.set(P.data.subarray(d * 3 * H + from * H, d * 3 * H + (from + 1) * H), to * H));
      dict[`peephole${suffix}`] = p;
    }
  }
  // Weights from a file: NaN or infinity there is a broken model, refused by name.
  for (const [name, t] of Object.entries(dict)) checkFinite(`${name} (from W, R, B or P of '${c.node.name}')`, t);
  return { inputSize: I, dict };
}

/** webrnn model options for nodes of config `c` stacked `numLayers` deep. */
export function nodeModelOptions(c: RecurrentNodeConfig, inputSize: number, numLayers: number, peepholes: boolean): RnnOptions & GruOptions & LstmOptions {
  const options: RnnOptions & GruOptions & LstmOptions = {
    inputSize,
    hiddenSize: c.hiddenSize,
    numLayers,
    bidirectional: c.directions === 2,
    batchFirst: c.layout === 1,
    cell: c.cell,
  };
  if (peepholes) options.peepholes = true;
  if (c.kind === 'gru') options.linearBeforeReset = c.linearBeforeReset;
  return options;
}

/** One recurrent node on the GPU: inputs and outputs as ONNX has them. */
export class RecurrentNodeRunner {
  private model: RecurrentModel | null = null;
  private modelKey = '';
  private loadedWeights: unknown[] = [];

  constructor(
    private readonly engine: ModelFactory,
    readonly config: RecurrentNodeConfig,
  ) {}

  /**
   * Run on the node's inputs by slot (X, W, R, B, sequence_lens, initial_h, initial_c, P);
   * returns Y, Y_h, Y_c by slot (undefined where the node does not name the output).
   */
  async run(ins: ReadonlyArray<OnnxValue | undefined>): Promise<Array<OnnxValue | undefined>> {
    const c = this.config;
    const { node } = c;
    const [X, W, R, Bv, lens, h0, c0, P] = ins;
    if (!X || X.dims.length !== 3) unsupported(node, 'an X that is not 3-D');
    if (!W || !R) unsupported(node, 'a missing W or R');
    if (c.kind !== 'lstm' && (c0 || P)) unsupported(node, 'initial_c or P on a non-LSTM');
    const H = c.hiddenSize;
    const D = c.directions;
    const [T, B] = c.layout === 1 ? [X.dims[1], X.dims[0]] : [X.dims[0], X.dims[1]];
    if (!(T > 0 && B > 0)) throw new ShapeError(`X of '${node.name}'`, [1, 1, X.dims[2]], X.dims);

    const weights = [W.data, R.data, Bv?.data, P?.data];
    if (!this.model || weights.some((w, i) => w !== this.loadedWeights[i])) {
      const { inputSize, dict } = nodeStateDict(c, 0, W, R, Bv, P);
      const options = nodeModelOptions(c, inputSize, 1, P !== undefined);
      const key = JSON.stringify(options);
      if (!this.model || this.modelKey !== key) {
        this.model?.destroy();
        this.model = null;
        this.model = this.engine[c.kind](options);
        this.modelKey = key;
      }
      this.model.loadStateDict(dict);
      this.loadedWeights = weights;
    }
    const I = this.model.spec.inputSize;
    expectDims(`X of '${node.name}'`, X, c.layout === 1 ? [B, T, I] : [T, B, I]);

    // States: ONNX [D, B, H] (layout 0) or [B, D, H] (layout 1); ours [D, B, H].
    const stateDims = c.layout === 1 ? [B, D, H] : [D, B, H];
    const toOurs = (s: OnnxValue | undefined, name: string): Float32Array | undefined => {
      if (!s) return undefined;
      expectDims(`${name} of '${node.name}'`, s, stateDims);
      if (c.layout === 0) return Float32Array.from(s.data);
      const out = new Float32Array(D * B * H);
      for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) for (let j = 0; j < H; j++) out[(d * B + b) * H + j] = s.data[(b * D + d) * H + j];
      return out;
    };
    let seqLens: number[] | undefined;
    if (lens) {
      expectDims(`sequence_lens of '${node.name}'`, lens, [B]);
      seqLens = Array.from(lens.data, Number);
    }
    let x: Float32Array = Float32Array.from(X.data);
    // ONNX's direction 'reverse' is one direction run backwards: reverse each sequence within
    // its own length, run forward, reverse the outputs back.
    const reverse = c.direction === 'reverse';
    if (reverse) x = this.reverseTime(x, B, T, I, seqLens);
    const r = await this.model.forward(x, { batch: B, seqLen: T, h0: toOurs(h0, 'initial_h'), c0: toOurs(c0, 'initial_c'), seqLens });
    const out = reverse ? this.reverseTime(r.output, B, T, H, seqLens) : r.output;

    // Outputs: Y [T, D, B, H] (layout 0) or [B, T, D, H]; Y_h, Y_c [D, B, H] or [B, D, H].
    let Y: OnnxValue;
    if (c.layout === 1) Y = { dims: [B, T, D, H], data: out };
    else {
      const y = new Float32Array(T * D * B * H);
      for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) for (let j = 0; j < H; j++) y[((t * D + d) * B + b) * H + j] = out[((t * B + b) * D + d) * H + j];
      Y = { dims: [T, D, B, H], data: y };
    }
    const state = (s: Float32Array): OnnxValue => {
      if (c.layout === 0) return { dims: stateDims, data: s };
      const o = new Float32Array(D * B * H);
      for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) for (let j = 0; j < H; j++) o[(b * D + d) * H + j] = s[(d * B + b) * H + j];
      return { dims: stateDims, data: o };
    };
    const [yName, yhName, ycName] = node.output;
    if (ycName && !r.cN) unsupported(node, 'output Y_c of a non-LSTM');
    return [yName ? Y : undefined, yhName ? state(r.hN) : undefined, ycName && r.cN ? state(r.cN) : undefined];
  }

  private reverseTime(a: Float32Array, B: number, T: number, F: number, lens?: number[]): Float32Array {
    const out = new Float32Array(a.length);
    const at = (t: number, b: number): number => (this.config.layout === 1 ? (b * T + t) * F : (t * B + b) * F);
    for (let b = 0; b < B; b++) {
      const L = lens ? lens[b] : T;
      for (let t = 0; t < T; t++) {
        const src = t < L ? L - 1 - t : t;
        out.set(a.subarray(at(src, b), at(src, b) + F), at(t, b));
      }
    }
    return out;
  }

  destroy(): void {
    this.model?.destroy();
    this.model = null;
  }
}
