/**
 * ONNX import: a graph made of one RNN, LSTM or GRU node, its weights given as initializers
 * or as graph inputs, run on the GPU with ONNX's names, shapes and layouts. This is the only
 * place where gate orders change: ONNX's LSTM blocks are i, o, f, c and its GRU blocks z, r, h;
 * PyTorch's (and webrnn's) are i, f, g, o and r, z, n.
 *
 * Supported: every attribute of the three operators: direction forward, reverse and
 * bidirectional; layout 0 and 1; linear_before_reset 0 and 1; sequence_lens; initial_h and
 * initial_c; peepholes P; clip; input_forget; the activations Sigmoid, Tanh, Relu,
 * HardSigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, Elu, Softsign and Softplus
 * with their alpha and beta (the same for both directions). Anything else (other operators,
 * different activations per direction) is refused with an error naming it.
 */
import { WebRnnError } from '../errors.js';
import { checkFinite } from '../model/parameters.js';
import type { Engine } from '../engine.js';
import type { RecurrentModel } from '../model/recurrent-model.js';
import { resolveCellFunction, type CellFunction, type CellFunctionName, type CellOptions } from '../model/cell-functions.js';
import type { CellKind, GruOptions, LstmOptions, RnnOptions } from '../model/spec.js';
import { decodeModel, tensorValues, type OnnxAttribute, type OnnxNode, type OnnxTensor } from './onnx-proto.js';

/** Values fed to or returned by `run`, by ONNX name. */
export type OnnxFeeds = Record<string, Float32Array | Int32Array | BigInt64Array | number[]>;

const OPS: Record<string, CellKind> = { RNN: 'rnn', LSTM: 'lstm', GRU: 'gru' };
/** PyTorch block k takes ONNX block PERM[k]. */
const PERM: Record<CellKind, number[]> = { lstm: [0, 2, 3, 1], gru: [1, 0, 2], rnn: [0] };
const DEFAULT_ACTIVATIONS: Record<CellKind, string[]> = { lstm: ['Sigmoid', 'Tanh', 'Tanh'], gru: ['Sigmoid', 'Tanh'], rnn: ['Tanh'] };

function attr(node: OnnxNode, name: string): OnnxAttribute | undefined {
  return node.attribute.find((a) => a.name === name);
}

function unsupported(node: OnnxNode, what: string): never {
  throw new WebRnnError('invalid-file', `onnx: ${node.opType} node '${node.name}': ${what} is not supported`);
}

/** A recurrent ONNX node, ready to run: attributes resolved, weights from initializers or feeds. */
export class OnnxRecurrentModel {
  readonly kind: CellKind;
  readonly hiddenSize: number;
  readonly direction: 'forward' | 'reverse' | 'bidirectional';
  readonly layout: 0 | 1;
  /** Graph input names, and output names (Y, Y_h, Y_c by slot; '' where not produced). */
  readonly inputNames: string[];
  readonly outputNames: string[];
  private model: RecurrentModel | null = null;
  private modelKey = '';
  private loadedWeights: unknown[] = [];

  constructor(
    private readonly engine: Engine,
    private readonly node: OnnxNode,
    private readonly initializers: ReadonlyMap<string, OnnxTensor>,
    inputNames: string[],
  ) {
    this.kind = OPS[node.opType];
    this.inputNames = inputNames;
    this.outputNames = node.output;
    const hidden = attr(node, 'hidden_size');
    if (!hidden || !(hidden.i > 0)) unsupported(node, 'a missing or non-positive hidden_size');
    this.hiddenSize = hidden.i;
    const dir = attr(node, 'direction');
    const direction = dir ? new TextDecoder().decode(dir.s) : 'forward';
    if (direction !== 'forward' && direction !== 'reverse' && direction !== 'bidirectional') unsupported(node, `direction '${direction}'`);
    this.direction = direction;
    const layout = attr(node, 'layout')?.i ?? 0;
    if (layout !== 0 && layout !== 1) unsupported(node, `layout ${layout}`);
    this.layout = layout;
    const known = ['hidden_size', 'direction', 'layout', 'activations', 'activation_alpha', 'activation_beta', 'clip', 'input_forget', 'linear_before_reset'];
    for (const a of node.attribute) if (!known.includes(a.name)) unsupported(node, `attribute '${a.name}'`);
    if (this.kind !== 'lstm' && attr(node, 'input_forget')) unsupported(node, 'input_forget on a non-LSTM');
    if (this.kind !== 'gru' && attr(node, 'linear_before_reset')) unsupported(node, 'linear_before_reset on a non-GRU');
  }

  /**
   * The cell options from activations, activation_alpha/beta, clip and input_forget. Alpha
   * and beta values are consumed in the order of the activations by the functions that take
   * them (ONNX's convention), ONNX's defaults filling in where the lists end. Both directions
   * must use the same functions: one pipeline runs them.
   */
  private cellOptions(): CellOptions {
    const node = this.node;
    const D = this.direction === 'bidirectional' ? 2 : 1;
    const per = DEFAULT_ACTIVATIONS[this.kind].length;
    const a = attr(node, 'activations');
    const names = a ? a.strings.map((x) => new TextDecoder().decode(x)) : [];
    if (names.length && names.length !== per * D) unsupported(node, `${names.length} activations for ${D} direction(s) (${per * D} expected)`);
    const alphas = [...(attr(node, 'activation_alpha')?.floats ?? [])];
    const betas = [...(attr(node, 'activation_beta')?.floats ?? [])];
    const TAKES_ALPHA = ['hardsigmoid', 'affine', 'leakyrelu', 'thresholdedrelu', 'scaledtanh', 'elu'];
    const TAKES_BETA = ['hardsigmoid', 'affine', 'scaledtanh'];
    const functions: CellFunction[] = (names.length ? names : Array.from({ length: D }, () => DEFAULT_ACTIVATIONS[this.kind]).flat()).map((name) => {
      const lc = name.toLowerCase();
      const f: CellFunction = { name: name as CellFunctionName };
      if (TAKES_ALPHA.includes(lc) && alphas.length) f.alpha = alphas.shift();
      if (TAKES_BETA.includes(lc) && betas.length) f.beta = betas.shift();
      return f;
    });
    if (alphas.length || betas.length) unsupported(node, 'activation_alpha/activation_beta values that no activation takes');
    const resolved = functions.map((f) => resolveCellFunction(f, `onnx ${node.opType} node '${node.name}'`));
    for (let k = 0; k < per; k++) {
      const [f0, f1] = [resolved[k], resolved[per + k]];
      if (f1 && (f0.name !== f1.name || f0.alpha !== f1.alpha || f0.beta !== f1.beta)) unsupported(node, 'different activations for the two directions');
    }
    const cell: CellOptions = { f: functions[0] };
    if (this.kind !== 'rnn') cell.g = functions[1];
    if (this.kind === 'lstm') cell.h = functions[2];
    const clip = attr(node, 'clip');
    if (clip) {
      if (!(clip.f > 0)) unsupported(node, `clip = ${clip.f}`);
      cell.clip = clip.f;
    }
    if ((attr(node, 'input_forget')?.i ?? 0) !== 0) cell.inputForget = true;
    return cell;
  }

  /** Run the node on `feeds` (its graph inputs); returns Y, Y_h, Y_c by their output names. */
  async run(feeds: OnnxFeeds): Promise<Record<string, Float32Array>> {
    const node = this.node;
    for (const name of Object.keys(feeds)) {
      if (!this.inputNames.includes(name)) throw new WebRnnError('invalid-option', `onnx run: '${name}' is not an input of the graph (inputs: ${this.inputNames.join(', ')})`);
    }
    const value = (slot: number): { dims: number[]; values: Float32Array | Int32Array | Float64Array } | null => {
      const name = node.input[slot];
      if (!name) return null;
      const init = this.initializers.get(name);
      if (init) return tensorValues(init);
      const fed = feeds[name];
      if (fed === undefined) throw new WebRnnError('invalid-option', `onnx run: input '${name}' missing`);
      const values = fed instanceof BigInt64Array ? Float64Array.from(fed, Number) : fed instanceof Float32Array || fed instanceof Int32Array ? fed : Float64Array.from(fed);
      return { dims: [], values };
    };
    const X = value(0)!;
    const W = value(1);
    const R = value(2);
    if (!W || !R) unsupported(node, 'a missing W or R');
    const H = this.hiddenSize;
    const D = this.direction === 'bidirectional' ? 2 : 1;
    const G = PERM[this.kind].length;
    const I = W.values.length / (D * G * H);
    if (!Number.isInteger(I) || I < 1) throw new WebRnnError('shape', `onnx run: W has ${W.values.length} values, not [${D}, ${G * H}, I]`);
    if (R.values.length !== D * G * H * H) throw new WebRnnError('shape', `onnx run: R has ${R.values.length} values, [${D}, ${G * H}, ${H}] expected`);
    const n = X.values.length / I;
    const B = this.batchOf(n);
    const T = n / B;
    if (!Number.isInteger(T) || T < 1) throw new WebRnnError('shape', `onnx run: X has ${X.values.length} values, not [seq, batch, ${I}] with batch ${B}`);
    const Bv = value(3);
    const lens = value(4);
    const h0 = value(5);
    const c0 = value(6);
    const P = value(7);
    const linearBeforeReset = (attr(node, 'linear_before_reset')?.i ?? 0) !== 0;
    const cell = this.cellOptions();

    // The PyTorch-named weights, gate blocks reordered; B splits into W's bias and R's bias.
    const dict: Record<string, Float32Array> = {};
    const block = (src: ArrayLike<number>, d: number, rows: number, cols: number, offset = 0): Float32Array => {
      const out = new Float32Array(G * rows * cols);
      PERM[this.kind].forEach((from, to) => {
        for (let i = 0; i < rows * cols; i++) out[to * rows * cols + i] = src[offset + d * G * rows * cols + from * rows * cols + i];
      });
      return out;
    };
    for (let d = 0; d < D; d++) {
      const suffix = `_l0${d === 1 ? '_reverse' : ''}`;
      dict[`weight_ih${suffix}`] = block(W.values, d, H, I);
      dict[`weight_hh${suffix}`] = block(R.values, d, H, H);
      const bias = Bv ? Bv.values : new Float32Array(D * 2 * G * H);
      if (bias.length !== D * 2 * G * H) throw new WebRnnError('shape', `onnx run: B has ${bias.length} values, [${D}, ${2 * G * H}] expected`);
      dict[`bias_ih${suffix}`] = block(bias, 0, H, 1, d * 2 * G * H);
      dict[`bias_hh${suffix}`] = block(bias, 0, H, 1, d * 2 * G * H + G * H);
      if (P) {
        // ONNX's P blocks are i, o, f; ours i, f, o.
        if (P.values.length !== D * 3 * H) throw new WebRnnError('shape', `onnx run: P has ${P.values.length} values, [${D}, ${3 * H}] expected`);
        const p = new Float32Array(3 * H);
        [0, 2, 1].forEach((from, to) => p.set(P.values.subarray(d * 3 * H + from * H, d * 3 * H + (from + 1) * H), to * H));
        dict[`peephole${suffix}`] = p;
      }
    }
    const options: RnnOptions & GruOptions & LstmOptions = { inputSize: I, hiddenSize: H, bidirectional: D === 2, batchFirst: this.layout === 1 };
    if (P) options.peepholes = true;
    options.cell = cell;
    if (this.kind === 'gru') options.linearBeforeReset = linearBeforeReset;
    const key = JSON.stringify(options);
    if (!this.model || this.modelKey !== key) {
      this.model?.destroy();
      this.model = this.engine[this.kind](options);
      this.modelKey = key;
      this.loadedWeights = [];
    }
    const weights = [W.values, R.values, Bv?.values, P?.values];
    if (weights.some((w, i) => w !== this.loadedWeights[i])) {
      // Weights from a file: NaN or infinity there is a broken model, refused by name.
      for (const [name, t] of Object.entries(dict)) checkFinite(`${name} (from W, R, B or P)`, t);
      this.model.loadStateDict(dict);
      this.loadedWeights = weights;
    }

    // States: ONNX [D, B, H] (layout 0) or [B, D, H] (layout 1); ours [D, B, H].
    const toOurs = (s: { values: ArrayLike<number> } | null): Float32Array | undefined => {
      if (!s) return undefined;
      if (s.values.length !== D * B * H) throw new WebRnnError('shape', `onnx run: an initial state has ${s.values.length} values, ${D * B * H} expected`);
      if (this.layout === 0) return Float32Array.from(s.values);
      const out = new Float32Array(D * B * H);
      for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) for (let j = 0; j < H; j++) out[(d * B + b) * H + j] = s.values[(b * D + d) * H + j];
      return out;
    };
    const seqLens = lens ? Array.from(lens.values, Number) : undefined;
    if (seqLens && seqLens.length !== B) throw new WebRnnError('shape', `onnx run: sequence_lens has ${seqLens.length} values, ${B} expected`);
    let x: Float32Array = Float32Array.from(X.values);
    // ONNX's direction 'reverse' is one direction run backwards: reverse each sequence within
    // its own length, run forward, reverse the outputs back.
    const reverse = this.direction === 'reverse';
    if (reverse) x = this.reverseTime(x, B, T, I, seqLens);
    const r = await this.model.forward(x, { batch: B, seqLen: T, h0: toOurs(h0), c0: toOurs(c0), seqLens });
    const out = reverse ? this.reverseTime(r.output, B, T, H, seqLens) : r.output;

    // Outputs: Y [T, D, B, H] (layout 0) or [B, T, D, H]; Y_h, Y_c [D, B, H] or [B, D, H].
    const result: Record<string, Float32Array> = {};
    const [yName, yhName, ycName] = node.output;
    if (yName) {
      if (this.layout === 1) result[yName] = out;
      else {
        const y = new Float32Array(T * D * B * H);
        for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) for (let j = 0; j < H; j++) y[((t * D + d) * B + b) * H + j] = out[((t * B + b) * D + d) * H + j];
        result[yName] = y;
      }
    }
    const state = (s: Float32Array): Float32Array => {
      if (this.layout === 0) return s;
      const o = new Float32Array(D * B * H);
      for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) for (let j = 0; j < H; j++) o[(b * D + d) * H + j] = s[(d * B + b) * H + j];
      return o;
    };
    if (yhName) result[yhName] = state(r.hN);
    if (ycName) {
      if (!r.cN) unsupported(node, 'output Y_c of a non-LSTM');
      result[ycName] = state(r.cN);
    }
    return result;
  }

  /** The batch size, from sequence_lens or initial_h when fed, else from the declared X shape. */
  private batch = 0;
  private batchOf(n: number): number {
    if (!this.batch) throw new WebRnnError('invalid-option', `onnx run: the batch size of X (${n} rows) cannot be told`);
    return this.batch;
  }

  /** @internal Set from the graph's declared X shape. */
  setBatch(b: number): void {
    this.batch = b;
  }

  private reverseTime(a: Float32Array, B: number, T: number, F: number, lens?: number[]): Float32Array {
    const out = new Float32Array(a.length);
    const at = (t: number, b: number): number => (this.layout === 1 ? (b * T + t) * F : (t * B + b) * F);
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

/** Parse an ONNX model and prepare its single recurrent node. */
export function importOnnx(engine: Engine, bytes: Uint8Array): OnnxRecurrentModel {
  const model = decodeModel(bytes);
  const graph = model.graph;
  if (!graph) throw new WebRnnError('invalid-file', 'onnx: the model has no graph');
  const ops = graph.node.filter((n) => n.opType in OPS);
  const others = graph.node.filter((n) => !(n.opType in OPS));
  if (others.length) throw new WebRnnError('invalid-file', `onnx: operator ${others[0].opType} (node '${others[0].name}') is not supported`);
  if (ops.length !== 1) throw new WebRnnError('invalid-file', `onnx: ${ops.length} recurrent nodes; graphs with exactly one are supported`);
  const node = ops[0];
  for (const n of [node]) if (n.domain && n.domain !== 'ai.onnx') throw new WebRnnError('invalid-file', `onnx: domain '${n.domain}' is not supported`);
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const inputNames = graph.input.map((i) => i.name).filter((n) => !initializers.has(n));
  const imported = new OnnxRecurrentModel(engine, node, initializers, inputNames);
  // The batch size from X's declared shape: [seq, batch, input] or [batch, seq, input].
  const x = graph.input.find((i) => i.name === node.input[0]);
  const dims = x?.type?.tensorType?.shape?.dim ?? [];
  const batch = Number(dims[imported.layout === 1 ? 0 : 1]?.dimValue ?? 0);
  if (batch > 0) imported.setBatch(batch);
  return imported;
}
