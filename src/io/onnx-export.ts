/**
 * ONNX export: a model's spec and PyTorch-named state dict written as an ONNX ModelProto
 * (ir_version 8, opset 14) for ONNX Runtime or any other ONNX runtime, built from the operator
 * specification (test/io/onnx-export.test.ts checks it against webrnn's importer and an
 * independent oracle of the operators). The graph, all in ONNX's layout 0 (sequence first):
 *
 *   X [T, B, I]                      ([B, T, I] when batchFirst, then Transpose perm [1, 0, 2]);
 *                                    a model with an embedding: int64 ids X [T, B] ([B, T]), then
 *                                    Gather(embedding.weight, X, axis 0) [T, B, I]
 *   layer l: RNN | LSTM | GRU        Y [T, D, B, H], Y_h (and Y_c) [D, B, H]; zero initial states
 *     Transpose perm [0, 2, 1, 3]    [T, B, D, H]
 *     Reshape [0, 0, -1]             [T, B, D·H]: the next layer's X, the last one's 'output'
 *   output [T, B, D·H]               ([B, T, D·H] when batchFirst, via Transpose perm [1, 0, 2])
 *   hN, cN [L·D, B, H]               Concat of every layer's Y_h (Y_c) on axis 0
 *   y [T, B, O] ([B, T, O])          MatMul(output, readout.weightᵀ) + readout.bias, outputSize > 0 only
 *   without returnSequences:
 *     the last Y_h [D, B, H]         Transpose perm [1, 0, 2], Reshape [0, −1]: final states [B, D·H]
 *     y [B, O]                       MatMul(final states, readout.weightᵀ) + readout.bias, or
 *                                    without a read-out the final states themselves (Identity)
 *
 * Gate blocks go back to ONNX's orders (the inverse of onnx.ts's nodeStateDict): LSTM i, o, f, c
 * from PyTorch's i, f, g, o; GRU z, r, h from r, z, n; peepholes i, o, f from i, f, o. Every
 * cell option has an ONNX attribute (activations with their alpha and beta, per direction;
 * clip; input_forget; linear_before_reset), so nothing a built or imported model can be is
 * refused; a state dict that does not fit the spec, or holds NaN or ±Infinity, is.
 */
import { directionFunctions, type ResolvedCellFunction } from '../spec/cell-functions.js';
import { validateStateDict } from '../spec/parameters.js';
import { describeLayers, EMBEDDING_WEIGHT, gateCount, isStack, layerInputSize, parameterInfo, parameterName, READOUT_BIAS, READOUT_WEIGHT, type CellKind, type ModelSpec } from '../spec/spec.js';
import { WebRnnError } from '../errors.js';
import { encodeModel, ONNX_FLOAT, ONNX_INT64 } from './onnx-proto.js';
import { checkFinite } from '../arrays.js';

/** The opset written: the first with the recurrent operators' `layout` (and Reshape's allowzero). */
export const EXPORT_OPSET = 14;
/** IR version 8 (ONNX 1.10 and later). */
export const EXPORT_IR_VERSION = 8;

const OP_TYPE: Record<CellKind, string> = { rnn: 'RNN', lstm: 'LSTM', gru: 'GRU' };
/** ONNX block k is PyTorch block FROM_PYTORCH[k] (the inverse of onnx.ts's PERM). */
const FROM_PYTORCH: Record<CellKind, number[]> = { lstm: [0, 3, 1, 2], gru: [1, 0, 2], rnn: [0] };
/** ONNX peephole block k (i, o, f) is webrnn's block PEEPHOLE_FROM[k] (i, f, o). */
const PEEPHOLE_FROM = [0, 2, 1];
/** Functions per direction and ONNX's defaults for them (the LSTM's f, g, h; the GRU's f, g; the RNN's f). */
const ONNX_DEFAULT_ACTIVATIONS: Record<CellKind, string[]> = { lstm: ['Sigmoid', 'Tanh', 'Tanh'], gru: ['Sigmoid', 'Tanh'], rnn: ['Tanh'] };
/** The functions that consume an activation_alpha / activation_beta value (ONNX's and ONNX Runtime's convention). */
const TAKES_ALPHA = new Set(['HardSigmoid', 'Affine', 'LeakyRelu', 'ThresholdedRelu', 'ScaledTanh', 'Elu']);
const TAKES_BETA = new Set(['HardSigmoid', 'Affine', 'ScaledTanh']);

/** AttributeProto.type codes. */
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_FLOATS = 6;
const ATTR_INTS = 7;
const ATTR_STRINGS = 8;

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const intAttr = (name: string, i: number) => ({ name, i, type: ATTR_INT });
const floatAttr = (name: string, f: number) => ({ name, f, type: ATTR_FLOAT });
const stringAttr = (name: string, s: string) => ({ name, s: utf8(s), type: ATTR_STRING });
const intsAttr = (name: string, ints: number[]) => ({ name, ints, type: ATTR_INTS });
const floatsAttr = (name: string, floats: number[]) => ({ name, floats, type: ATTR_FLOATS });
const stringsAttr = (name: string, strings: string[]) => ({ name, strings: strings.map(utf8), type: ATTR_STRINGS });

/** A float tensor with its data as raw little-endian bytes (ONNX's byte order on any host). */
function floatTensor(name: string, dims: number[], data: Float32Array) {
  const raw = new Uint8Array(data.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return { name, dims, dataType: ONNX_FLOAT, rawData: raw };
}

function int64Tensor(name: string, values: number[]) {
  return { name, dims: [values.length], dataType: ONNX_INT64, int64Data: values };
}

/** A float (or int64) value's declaration: numbers are fixed dims, strings symbolic ones. */
function valueInfo(name: string, dims: Array<number | string>, elemType = ONNX_FLOAT) {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

function node(opType: string, name: string, input: string[], output: string[], attribute: object[] = []) {
  return { opType, name, input, output, attribute, domain: '' };
}

/**
 * A [G·H, cols] PyTorch tensor with its G blocks of H rows put in ONNX's order, written into
 * `out` at `offset`.
 */
function reorderBlocks(kind: CellKind, src: Float32Array, H: number, cols: number, out: Float32Array, offset: number): void {
  const block = H * cols;
  FROM_PYTORCH[kind].forEach((from, to) => out.set(src.subarray(from * block, (from + 1) * block), offset + to * block));
}

/**
 * The attributes for the cell functions, clip and input_forget. The Elman RNN always lists its
 * activation (as PyTorch's exporter does: Tanh or Relu; 'identity' is Affine with alpha 1 and
 * beta 0); the LSTM and GRU list theirs only where they differ from ONNX's defaults. Forward's
 * functions come first, then the reverse direction's; alpha and beta are listed in that order
 * for the functions that take them.
 */
function cellAttributes(spec: ModelSpec): object[] {
  const defaults = ONNX_DEFAULT_ACTIVATIONS[spec.kind];
  const functions: ResolvedCellFunction[] = [];
  for (let d = 0; d < spec.numDirections; d++) {
    const fns = directionFunctions(spec.cell, d);
    functions.push(...[fns.f, fns.g, fns.h].slice(0, defaults.length));
  }
  const attributes: object[] = [];
  if (spec.kind === 'rnn' || functions.some((f, i) => f.name !== defaults[i % defaults.length])) {
    attributes.push(stringsAttr('activations', functions.map((f) => f.name)));
    const alphas = functions.filter((f) => TAKES_ALPHA.has(f.name)).map((f) => f.alpha);
    const betas = functions.filter((f) => TAKES_BETA.has(f.name)).map((f) => f.beta);
    if (alphas.length) attributes.push(floatsAttr('activation_alpha', alphas));
    if (betas.length) attributes.push(floatsAttr('activation_beta', betas));
  }
  if (spec.cell.clip > 0) attributes.push(floatAttr('clip', spec.cell.clip));
  if (spec.cell.inputForget) attributes.push(intAttr('input_forget', 1));
  return attributes;
}

/**
 * The model of `spec` with the parameters `dict` (PyTorch's names, as `stateDict()` returns
 * them) as ONNX ModelProto bytes; see the top of this file for the graph. Graph input 'X'
 * ('seq' and 'batch' symbolic); outputs 'output', 'hN', 'cN' (LSTM) and 'y' (with a read-out or
 * without returnSequences: y as forward gives it wherever it is more than the output).
 * Throws a WebRnnError when `dict` is not exactly the model's parameters or holds a non-finite
 * value.
 */
export function exportOnnx(spec: ModelSpec, dict: Readonly<Record<string, Float32Array>>): Uint8Array {
  // Names and shapes as loadStateDict checks them, and finite: NaN in a file is a broken model
  // (webrnn's importer refuses one), so it is refused here, by name, rather than written.
  // What ONNX's recurrent operators cannot express.
  if (spec.goBackwards) throw new WebRnnError('invalid-option', 'exportOnnx: a model with goBackwards (the input read from its end) is not exported');
  if (spec.layers.some((l) => l.projSize)) throw new WebRnnError('invalid-option', "exportOnnx: an LSTM with projections (projSize) is not exported: ONNX's LSTM has no projection");
  if (isStack(spec)) throw new WebRnnError('invalid-option', `exportOnnx: a stack of layers that differ (${describeLayers(spec)}) is not exported; models of one cell are`);
  validateStateDict(spec, dict, false);
  for (const p of parameterInfo(spec)) checkFinite(`exportOnnx: ${p.name}`, dict[p.name]);
  const { kind, hiddenSize: H, numDirections: D, numLayers: L, batchFirst, outputSize: O } = spec;
  const G = gateCount(kind);
  const op = OP_TYPE[kind];
  const DH = D * H;
  const lstm = kind === 'lstm';
  const nodes: object[] = [];
  const initializers: object[] = [];

  const seqDims = (features: number): Array<number | string> => (batchFirst ? ['batch', 'seq', features] : ['seq', 'batch', features]);
  let inputs = [valueInfo('X', seqDims(spec.inputSize))];
  let x = 'X';
  if (spec.embedding) {
    if (spec.embedding.maskZero) throw new WebRnnError('invalid-option', 'exportOnnx: an embedding with maskZero (sequence lengths read from the ids) is not exported; export the model without maskZero and pass sequence_lens');
    // Token ids in: X [T, B] ([B, T]) int64, the embedding's rows gathered into [T, B, I] ([B, T, I]).
    inputs = [valueInfo('X', seqDims(0).slice(0, 2), ONNX_INT64)];
    initializers.push(floatTensor('embedding_weight', [spec.embedding.numEmbeddings, spec.inputSize], dict[EMBEDDING_WEIGHT]));
    nodes.push(node('Gather', 'embedding_gather', ['embedding_weight', 'X'], ['X_embedded'], [intAttr('axis', 0)]));
    x = 'X_embedded';
  }
  if (batchFirst) {
    // The nodes run in layout 0: [B, T, I] → [T, B, I].
    nodes.push(node('Transpose', 'X_to_time_major', [x], ['X_tbi'], [intsAttr('perm', [1, 0, 2])]));
    x = 'X_tbi';
  }
  // Reshape's 0 copies the dim: [T, B, D, H] → [T, B, D·H] for any T and B.
  initializers.push(int64Tensor('merge_directions_shape', [0, 0, -1]));

  const attributes = [intAttr('hidden_size', H), stringAttr('direction', D === 2 ? 'bidirectional' : 'forward'), intAttr('layout', 0), ...cellAttributes(spec)];
  if (kind === 'gru') attributes.push(intAttr('linear_before_reset', spec.linearBeforeReset ? 1 : 0));

  const yh: string[] = [];
  const yc: string[] = [];
  for (let l = 0; l < L; l++) {
    const I = layerInputSize(spec, l);
    // W [D, G·H, I], R [D, G·H, H], B [D, 2·G·H] = [W bias | R bias] per direction, P [D, 3H].
    const W = new Float32Array(D * G * H * I);
    const R = new Float32Array(D * G * H * H);
    const Bv = new Float32Array(D * 2 * G * H);
    const P = new Float32Array(D * 3 * H);
    for (let d = 0; d < D; d++) {
      reorderBlocks(kind, dict[parameterName('weight_ih', l, d)], H, I, W, d * G * H * I);
      reorderBlocks(kind, dict[parameterName('weight_hh', l, d)], H, H, R, d * G * H * H);
      if (spec.bias) {
        reorderBlocks(kind, dict[parameterName('bias_ih', l, d)], H, 1, Bv, d * 2 * G * H);
        reorderBlocks(kind, dict[parameterName('bias_hh', l, d)], H, 1, Bv, d * 2 * G * H + G * H);
      }
      if (spec.peepholes) {
        const p = dict[parameterName('peephole', l, d)];
        PEEPHOLE_FROM.forEach((from, to) => P.set(p.subarray(from * H, (from + 1) * H), d * 3 * H + to * H));
      }
    }
    const w = `W_l${l}`;
    const r = `R_l${l}`;
    const b = `B_l${l}`;
    initializers.push(floatTensor(w, [D, G * H, I], W), floatTensor(r, [D, G * H, H], R), floatTensor(b, [D, 2 * G * H], Bv));
    // Inputs by slot: X, W, R, B, sequence_lens, initial_h, initial_c, P. Empty names leave
    // sequence_lens (every sequence runs T steps) and the initial states (zeros) out.
    const nodeInputs = [x, w, r, b];
    if (spec.peepholes) {
      initializers.push(floatTensor(`P_l${l}`, [D, 3 * H], P));
      nodeInputs.push('', '', '', `P_l${l}`);
    }
    const y = `Y_l${l}`;
    yh.push(`Y_h_l${l}`);
    if (lstm) yc.push(`Y_c_l${l}`);
    nodes.push(node(op, `${op}_l${l}`, nodeInputs, lstm ? [y, yh[l], yc[l]] : [y, yh[l]], attributes));
    // Y [T, D, B, H] → [T, B, D, H] → [T, B, D·H]: directions concatenated per step, forward
    // first, as webrnn's output and the next layer's X.
    const last = l === L - 1;
    const merged = last ? (batchFirst ? 'output_tbf' : 'output') : `X_l${l + 1}`;
    nodes.push(node('Transpose', `${y}_to_tbdh`, [y], [`${y}_tbdh`], [intsAttr('perm', [0, 2, 1, 3])]));
    nodes.push(node('Reshape', `${y}_merge_directions`, [`${y}_tbdh`, 'merge_directions_shape'], [merged]));
    x = merged;
  }
  if (batchFirst) nodes.push(node('Transpose', 'output_to_batch_major', [x], ['output'], [intsAttr('perm', [1, 0, 2])]));

  const outputs = [valueInfo('output', seqDims(DH)), valueInfo('hN', [L * D, 'batch', H])];
  // Y_h [D, B, H] per layer → [L·D, B, H], index l·D + d as forward's hN.
  nodes.push(node('Concat', 'hN_concat', yh, ['hN'], [intAttr('axis', 0)]));
  if (lstm) {
    nodes.push(node('Concat', 'cN_concat', yc, ['cN'], [intAttr('axis', 0)]));
    outputs.push(valueInfo('cN', [L * D, 'batch', H]));
  }
  // y's rows: every step's output, or (without returnSequences) the last layer's final states.
  let rows = 'output';
  if (!spec.returnSequences) {
    initializers.push(int64Tensor('final_states_shape', [0, -1]));
    nodes.push(node('Transpose', 'final_states_to_bdh', [yh[L - 1]], ['final_states_bdh'], [intsAttr('perm', [1, 0, 2])]));
    nodes.push(node('Reshape', 'final_states_merge_directions', ['final_states_bdh', 'final_states_shape'], ['final_states']));
    rows = 'final_states';
  }
  const yDims = (features: number): Array<number | string> => (spec.returnSequences ? seqDims(features) : ['batch', features]);
  if (O > 0) {
    // y = rows·Wᵀ + b as PyTorch's exporter writes nn.Linear on a 3-D input: MatMul with the
    // transposed weight [D·H, O] (broadcast over the leading dims), then Add.
    const weight = dict[READOUT_WEIGHT];
    const weightT = new Float32Array(DH * O);
    for (let o = 0; o < O; o++) for (let f = 0; f < DH; f++) weightT[f * O + o] = weight[o * DH + f];
    initializers.push(floatTensor('readout_weight_t', [DH, O], weightT), floatTensor('readout_bias', [O], dict[READOUT_BIAS]));
    nodes.push(node('MatMul', 'readout_matmul', [rows, 'readout_weight_t'], ['readout_xw']));
    nodes.push(node('Add', 'readout_add', ['readout_xw', 'readout_bias'], ['y']));
    outputs.push(valueInfo('y', yDims(O)));
  } else if (!spec.returnSequences) {
    nodes.push(node('Identity', 'y_final_states', [rows], ['y']));
    outputs.push(valueInfo('y', yDims(DH)));
  }

  return encodeModel({
    irVersion: EXPORT_IR_VERSION,
    producerName: 'webrnn',
    opsetImport: [{ domain: '', version: EXPORT_OPSET }],
    graph: { name: `webrnn_${kind}`, node: nodes, initializer: initializers, input: inputs, output: outputs },
  });
}
