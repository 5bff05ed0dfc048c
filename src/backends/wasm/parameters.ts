/**
 * A model's parameters in wasm memory: one block holding every tensor in parameterInfo's order
 * and PyTorch's layouts (so gradients, optimizer moments and the update share one layout and
 * one pass over the block), and transposed copies of the weights for the products that read
 * them along their rows: W_ihᵀ [I_l, G·H] and W_hhᵀ [H, G·H] per layer and direction, the
 * read-out's Wᵀ [D·H, O]. The copies are refreshed after each write or update (transposes()).
 */
import { gateCount, layerInputSize, parameterInfo, parameterName, READOUT_BIAS, READOUT_WEIGHT, type ModelSpec } from '../../spec/spec.js';
import type { StateDict } from '../../spec/parameters.js';
import type { WasmHeap } from './memory.js';
import { Program } from './program.js';

export class WasmParameters {
  /** The block: every tensor, in order. */
  readonly block: number;
  /** Floats in the block. */
  readonly floats: number;
  /** Each tensor's byte pointer and floats. */
  private readonly tensors = new Map<string, { ptr: number; n: number }>();
  /** Transposed copies: [l][d]. */
  readonly wihT: number[][] = [];
  readonly whhT: number[][] = [];
  readonly readoutT: number;

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
    const G = gateCount(spec.kind);
    const H = spec.hiddenSize;
    for (let l = 0; l < spec.numLayers; l++) {
      this.wihT.push([]);
      this.whhT.push([]);
      for (let d = 0; d < spec.numDirections; d++) {
        this.wihT[l].push(heap.alloc(layerInputSize(spec, l) * G * H));
        this.whhT[l].push(heap.alloc(H * G * H));
      }
    }
    this.readoutT = spec.outputSize > 0 ? heap.alloc(spec.numDirections * H * spec.outputSize) : 0;
  }

  /** The byte pointer of tensor `name` in a block of this layout starting at `block` (default: the parameters'). */
  at(name: string, block = this.block): number {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`wasm parameters: no tensor ${name}`);
    return block + (t.ptr - this.block);
  }

  /** The pointer of layer l, direction d's tensor of `role` (0 for a bias the model lacks). */
  of(role: 'weight_ih' | 'weight_hh' | 'bias_ih' | 'bias_hh' | 'peephole', l: number, d: number, block = this.block): number {
    const name = parameterName(role, l, d);
    return this.tensors.has(name) ? this.at(name, block) : 0;
  }

  write(dict: Readonly<StateDict>): void {
    for (const [name, t] of this.tensors) this.heap.f32(t.ptr, t.n).set(dict[name]);
  }

  /** The tensors of a block of this layout, by name; `names` picks some (default all). */
  read(block = this.block, names?: (name: string) => boolean): StateDict {
    const out: StateDict = {};
    for (const [name, t] of this.tensors) if (!names || names(name)) out[name] = this.heap.read(block + (t.ptr - this.block), t.n);
    return out;
  }

  /** Records refreshing every transposed copy from the block. */
  transposes(program = new Program()): Program {
    const { spec } = this;
    const GH = gateCount(spec.kind) * spec.hiddenSize;
    const H = spec.hiddenSize;
    for (let l = 0; l < spec.numLayers; l++) {
      const I = layerInputSize(spec, l);
      for (let d = 0; d < spec.numDirections; d++) {
        program.add('transpose', { dst: this.wihT[l][d], ldd: GH, src: this.of('weight_ih', l, d), lds: I, M: GH, N: I });
        program.add('transpose', { dst: this.whhT[l][d], ldd: GH, src: this.of('weight_hh', l, d), lds: H, M: GH, N: H });
      }
    }
    if (this.readoutT) {
      const DH = spec.numDirections * H;
      program.add('transpose', { dst: this.readoutT, ldd: spec.outputSize, src: this.at(READOUT_WEIGHT), lds: DH, M: spec.outputSize, N: DH });
    }
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
    for (const row of [...this.wihT, ...this.whhT]) for (const p of row) this.heap.release(p);
    this.heap.release(this.readoutT);
  }
}
