/**
 * A model on the wasm backend: its parameters in the engine's wasm memory (parameters.ts) and
 * the plans of its passes, made once per shape (the least recently used released first) and run
 * on the engine's threads.
 */
import { WebRnnError } from '../../errors.js';
import { dropsOut, type ForwardStats, type GradientResult, type ModelExecution, type PassGradients, type PassInputs, type PassResult, type ReadoutRows, type StreamExecution, type TrainStepReadback, type TrainStepRequest } from '../../model/backend.js';
import type { StateDict } from '../../spec/parameters.js';
import { stateSize, type ModelSpec } from '../../spec/spec.js';
import { WasmParameters } from './parameters.js';
import { ForwardPlan, GradientPlan, TrainPlan, type OptimizerState } from './plans.js';
import type { WasmRuntime } from './runtime.js';
import { PlanCache } from '../../model/plan-cache.js';
import type { OptimizerSnapshot } from '../../train/checkpoint.js';

/** Plans kept per kind of pass. */
const MAX_PLANS = 4;

export class WasmModel implements ModelExecution {
  private params: WasmParameters | null;
  private readonly plans = new PlanCache<ForwardPlan>(MAX_PLANS);
  private readonly gradientPlans = new PlanCache<GradientPlan>(MAX_PLANS);
  private readonly trainPlans = new PlanCache<TrainPlan>(MAX_PLANS);
  private readonly streams = new Set<ForwardPlan>();
  private optimizer: OptimizerState | null = null;
  lastForwardStats: ForwardStats | null = null;
  lastTrainStats: { submits: number; dispatches: number } | null = null;

  constructor(
    private readonly rt: WasmRuntime,
    private readonly spec: ModelSpec,
  ) {
    this.params = new WasmParameters(rt.heap, spec);
  }

  check(what: string): void {
    if (this.rt.isDestroyed || !this.params) throw new WebRnnError('destroyed', `${what}: the engine of this model has been destroyed`);
  }

  private get p(): WasmParameters {
    if (!this.params) throw new WebRnnError('destroyed', 'the model has been destroyed');
    return this.params;
  }

  writeParameters(dict: Readonly<StateDict>): void {
    this.p.write(dict);
    const program = this.p.packs().encode(this.rt.heap);
    try {
      this.rt.run(program);
    } finally {
      this.rt.heap.release(program.ptr);
    }
  }

  async readParameters(): Promise<StateDict> {
    return this.p.read();
  }

  /** Nothing compiles per model: the engine compiled the kernels once. */
  async warmup(): Promise<void> {}

  async forward(inputs: PassInputs, rows: ReadoutRows): Promise<PassResult> {
    const { batch: B, seqLen: T } = inputs;
    const plan = this.plans.get(`${B}x${T}|${rows}`, () => new ForwardPlan(this.rt, this.spec, this.p, B, T, rows));
    const r = plan.run(inputs);
    const layers = this.spec.layers;
    const perStep = layers.reduce((n, y) => n + y.numDirections * (y.kind === 'gru' && !y.linearBeforeReset ? 2 : 1), 0);
    this.lastForwardStats = { submits: 0, dispatches: plan.program.count, dispatchesPerStep: perStep, gemmDispatches: layers.reduce((n, y) => n + y.numDirections, 0) };
    return r;
  }

  async gradients(inputs: PassInputs, grads: PassGradients, rows: ReadoutRows): Promise<GradientResult> {
    if (this.spec.layers.some((y) => y.kind === 'gru' && !y.linearBeforeReset)) throw new WebRnnError('invalid-option', 'gradients are not available for a GRU with linearBeforeReset: false');
    const { batch: B, seqLen: T } = inputs;
    const drops = dropsOut(this.spec, inputs);
    const plan = this.gradientPlans.get(`${B}x${T}|${rows}${drops ? '|dropout' : ''}`, () => new GradientPlan(this.rt, this.spec, this.p, B, T, rows, drops));
    const r = plan.run(inputs, grads.gradOutput, grads.gradHN, grads.gradCN);
    const out: GradientResult = { params: r.params, input: r.input, h0: r.h0, output: r.output, hN: r.hN };
    if (r.y) out.y = r.y;
    if (r.cN) out.cN = r.cN;
    if (r.c0) out.c0 = r.c0;
    return out;
  }

  get hasOptimizerState(): boolean {
    return this.optimizer !== null;
  }

  resetOptimizer(): void {
    this.trainPlans.clear();
    for (const b of this.optimizer?.blocks ?? []) this.rt.heap.release(b);
    this.optimizer = null;
  }

  async readOptimizerState(): Promise<OptimizerSnapshot | null> {
    const state = this.optimizer;
    return state && { type: state.type, step: state.step, buffers: state.blocks.map((b) => this.p.read(b)) };
  }

  writeOptimizerState(snapshot: OptimizerSnapshot): void {
    this.resetOptimizer();
    const blocks = snapshot.buffers.map((dict) => {
      const b = this.rt.heap.alloc(this.p.floats);
      this.p.write(dict, b);
      return b;
    });
    this.optimizer = { type: snapshot.type, step: snapshot.step, blocks };
  }

  async trainStep(inputs: PassInputs, request: TrainStepRequest): Promise<TrainStepReadback> {
    if (this.spec.layers.some((y) => y.kind === 'gru' && !y.linearBeforeReset)) throw new WebRnnError('invalid-option', 'trainStep is not available for a GRU with linearBeforeReset: false');
    const { batch: B, seqLen: T } = inputs;
    const type = request.optimizer.type;
    if (this.optimizer && this.optimizer.type !== type) this.resetOptimizer();
    if (!this.optimizer) {
      const n = this.p.floats;
      const blocks = Array.from({ length: type === 'sgd' ? 1 : 2 }, () => {
        const b = this.rt.heap.alloc(n);
        this.rt.heap.f32(b, n).fill(0);
        return b;
      });
      this.optimizer = { type, step: 0, blocks };
    }
    const state = this.optimizer;
    const drops = dropsOut(this.spec, inputs);
    const plan = this.trainPlans.get(`${B}x${T}|${request.loss}|${request.rowsOn}${drops ? '|dropout' : ''}`, () => new TrainPlan(this.rt, this.spec, this.p, B, T, request.loss, request.rowsOn, state, drops));
    const r = plan.run(inputs, request);
    this.lastTrainStats = { submits: 0, dispatches: plan.program.count };
    return r;
  }

  async openStream(batch: number): Promise<StreamExecution> {
    const plan = new ForwardPlan(this.rt, this.spec, this.p, batch, 1, 'steps');
    this.streams.add(plan);
    const { heap } = this.rt;
    const f = plan.f;
    const stateFloats = stateSize(this.spec, batch);
    const cellFloats = stateSize(this.spec, batch, true);
    const lens = new Float32Array(batch).fill(1);
    // h0 and c hold the state between steps: hN is copied over h0 after each; c is updated in place.
    heap.f32(f.h0, stateFloats).fill(0);
    if (f.c) heap.f32(f.c, cellFloats).fill(0);
    return {
      setStates: (h0, c0) => {
        if (h0) heap.write(f.h0, h0);
        else heap.f32(f.h0, stateFloats).fill(0);
        if (f.c) {
          if (c0) heap.write(f.c, c0);
          else heap.f32(f.c, cellFloats).fill(0);
        }
      },
      step: async (x, ids) => {
        this.check('stream');
        const r = plan.run({ batch, seqLen: 1, x, ids, seqLens: lens }, true);
        heap.f32(f.h0, stateFloats).set(heap.f32(f.hN, stateFloats));
        return r.y ? { h: r.output, y: r.y } : { h: r.output };
      },
      readStates: async () => {
        const h = heap.read(f.h0, stateFloats);
        return f.c ? { h, c: heap.read(f.c, cellFloats) } : { h };
      },
      destroy: () => {
        if (this.streams.delete(plan)) plan.destroy();
      },
    };
  }

  release(): void {
    if (!this.params) return;
    this.resetOptimizer();
    this.plans.clear();
    this.gradientPlans.clear();
    for (const plan of this.streams) plan.destroy();
    this.streams.clear();
    this.params.release();
    this.params = null;
  }
}
