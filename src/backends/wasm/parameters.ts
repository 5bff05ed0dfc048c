/**
 * A model's parameters in wasm memory: one block holding every tensor in parameterInfo's order
 * and PyTorch's layouts (so gradients, optimizer moments and the update share one layout and
 * one pass over the block), and the forward's weights packed as matmul's B panels
 * (pack-panels): W_ihᵀ per layer and direction, W_hhᵀ per gate block, and the read-out's Wᵀ
 * per direction's columns. The packs are refreshed after each write or update (packs()).
 * An LSTM layer with a projection runs as the LSTM over r = o ⊙ tanh(c) with recurrent weight
 * W_hh·W_hr (spec/parameters.ts): packs() forms that product (`whhEff`, [G·H, H]) and packs it,
 * and packs W_hr [P, H] and W_hh [G·H, P] for the products h = r·W_hrᵀ and h0·W_hhᵀ.
 */
import { gateCount, layerInputSize, outputWidth, parameterInfo, parameterName, READOUT_BIAS, READOUT_WEIGHT, stateWidth, type ModelSpec } from '../../spec/spec.js';
import type { StateDict } from '../../spec/parameters.js';
import type { WasmHeap } from './memory.js';
import { Program } from './program.js';

/** Floats of the packed panels of W [N, K] (pack-panels: ⌈N/8⌉ panels of K rows of 8). */
export function panelFloats(N: number, K: number): number {
  return Math.ceil(N / 8) * 8 * K;
}

export class WasmParameters {
  /** The block: every tensor, in order. */
  readonly block: number;
  /** Floats in the block. */
  readonly floats: number;
  /** Each tensor's byte pointer and floats. */
  private readonly tensors = new Map<string, { ptr: number; n: number }>();
  /** Packed panels: [l][d]; W_hh's one set a gate block, ⌈H/8⌉·8·H floats apart. */
  readonly wihP: number[][] = [];
  readonly whhP: number[][] = [];
  /** The read-out's Wᵀ rows of direction d's features, packed: [d]. */
  readonly readoutP: number[] = [];
  /** Projecting layers [l][d] (0 elsewhere): W_hh·W_hr [G·H, H], and W_hr's and W_hh's panels. */
  readonly whhEff: number[][] = [];
  readonly whrP: number[][] = [];
  readonly whhRawP: number[][] = [];

  constructor(
    private readonly heap: WasmHeap,
    private readonly spec: ModelSpec,
  ) {
    const info = parameterInfo(spec);
    let floats = 0;
    for (const p of info) floats += p.shape.reduce((a, b) => a * b, 1);
    this.floats = floats;
    this.block = heap.alloc(floats);
    let at = this.block;
    for (const p of info) {
      const n = p.shape.reduce((a, b) => a * b, 1);
      this.tensors.set(p.name, { ptr: at, n });
      at += 4 * n;
    }
    for (let l = 0; l < spec.numLayers; l++) {
      const { kind, hiddenSize: H, numDirections: D, projSize: P } = spec.layers[l];
      const G = gateCount(kind);
      for (const list of [this.wihP, this.whhP, this.whhEff, this.whrP, this.whhRawP]) list.push([]);
      for (let d = 0; d < D; d++) {
        this.wihP[l].push(heap.alloc(panelFloats(G * H, layerInputSize(spec, l))));
        this.whhP[l].push(heap.alloc(G * panelFloats(H, H)));
        this.whhEff[l].push(P ? heap.alloc(G * H * H) : 0);
        this.whrP[l].push(P ? heap.alloc(panelFloats(P, H)) : 0);
        this.whhRawP[l].push(P ? heap.alloc(panelFloats(G * H, P)) : 0);
      }
    }
    if (spec.outputSize > 0) for (let d = 0; d < spec.numDirections; d++) this.readoutP.push(heap.alloc(panelFloats(spec.outputSize, stateWidth(spec))));
  }

  /** The byte pointer of tensor `name` in a block of this layout starting at `block` (default: the parameters'). */
  at(name: string, block = this.block): number {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`wasm parameters: no tensor ${name}`);
    return block + (t.ptr - this.block);
  }

  /** The recurrence's weight [G·H, H] of layer l, direction d: W_hh, or a projecting layer's W_hh·W_hr. */
  recurrentWeight(l: number, d: number): number {
    return this.whhEff[l][d] || this.of('weight_hh', l, d);
  }

  /** The pointer of layer l, direction d's tensor of `role` (0 for a bias the model lacks). */
  of(role: 'weight_ih' | 'weight_hh' | 'bias_ih' | 'bias_hh' | 'peephole' | 'weight_hr', l: number, d: number, block = this.block): number {
    const name = parameterName(role, l, d);
    return this.tensors.has(name) ? this.at(name, block) : 0;
  }

  /** Write every tensor of `dict` into a block of this layout (default: the parameters'). */
  write(dict: Readonly<StateDict>, block = this.block): void {
    for (const [name, t] of this.tensors) this.heap.f32(block + (t.ptr - this.block), t.n).set(dict[name]);
  }

  /** The tensors of a block of this layout, by name; `names` picks some (default all). */
  read(block = this.block, names?: (name: string) => boolean): StateDict {
    const out: StateDict = {};
    for (const [name, t] of this.tensors) if (!names || names(name)) out[name] = this.heap.read(block + (t.ptr - this.block), t.n);
    return out;
  }

  /** Records refreshing every packed copy from the block. */
  packs(program = new Program()): Program {
    const { spec } = this;
    for (let l = 0; l < spec.numLayers; l++) {
      const I = layerInputSize(spec, l);
      const { kind, hiddenSize: H, numDirections: D, projSize: P } = spec.layers[l];
      const G = gateCount(kind);
      for (let d = 0; d < D; d++) {
        program.add('packPanels', { dst: this.wihP[l][d], w: this.of('weight_ih', l, d), ldw: I, N: G * H, K: I });
        if (P) {
          // W_hh·W_hr [G·H, H] = W_hh [G·H, P]·W_hr [P, H]; the panels of W_hr and W_hh as matmul's Wᵀ.
          program.add('matmul', { c: this.whhEff[l][d], ldc: H, a: this.of('weight_hh', l, d), sam: P, sak: 1, b: this.of('weight_hr', l, d), ldb: H, packed: 0, bias: 0, M: G * H, N: H, K: P, accumulate: 0 });
          program.add('packPanels', { dst: this.whrP[l][d], w: this.of('weight_hr', l, d), ldw: H, N: P, K: H });
          program.add('packPanels', { dst: this.whhRawP[l][d], w: this.of('weight_hh', l, d), ldw: P, N: G * H, K: P });
        }
        for (let g = 0; g < G; g++) program.add('packPanels', { dst: this.whhP[l][d] + 4 * g * panelFloats(H, H), w: this.recurrentWeight(l, d) + 4 * g * H * H, ldw: H, N: H, K: H });
      }
    }
    const H = stateWidth(spec);
    const DH = outputWidth(spec);
    this.readoutP.forEach((dst, d) => program.add('packPanels', { dst, w: this.at(READOUT_WEIGHT) + 4 * d * H, ldw: DH, N: spec.outputSize, K: H }));
    return program;
  }

  /** The read-out's bias pointer (0 without a read-out). */
  get readoutBias(): number {
    return this.spec.outputSize > 0 ? this.at(READOUT_BIAS) : 0;
  }

  get readoutWeight(): number {
    return this.spec.outputSize > 0 ? this.at(READOUT_WEIGHT) : 0;
  }

  release(): void {
    this.heap.release(this.block);
    for (const row of [...this.wihP, ...this.whhP, ...this.whhEff, ...this.whrP, ...this.whhRawP]) for (const p of row) if (p) this.heap.release(p);
    for (const p of this.readoutP) this.heap.release(p);
  }
}
