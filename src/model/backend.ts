/**
 * The seam between the public model classes and what runs them. `RecurrentModel`,
 * `RecurrentStream` and `OnnxModel` check arguments, order calls, convert layouts and name
 * results; a backend keeps the parameters, chooses and compiles its kernels and runs the passes.
 * Everything crossing the seam is checked already and sequence-major ([T, B, …]); a backend
 * validates nothing a caller gave. The WebGPU backend is src/backends/webgpu/; another backend
 * implements these two interfaces (docs/architecture.md, "Backends").
 */
import type { ResolvedOptimizer } from '../train/options.js';
import type { OptimizerSnapshot } from '../train/checkpoint.js';
import type { StateDict } from '../spec/parameters.js';
import type { ModelSpec } from '../spec/spec.js';

/** What a backend records of a forward pass. */
export interface ForwardStats {
  submits: number;
  dispatches: number;
  /** Recurrent dispatches per time step, summed over layers (directions share a dispatch); 0 for the persistent variant, one dispatch per layer for all its steps. */
  dispatchesPerStep: number;
  /** Input-projection GEMM dispatches (one per layer). */
  gemmDispatches: number;
}

/** One pass's inputs: x [T, B, I] (or a model's token ids [T, B]), initial states [L·D, B, H] where given, each row's length where they differ. */
export interface PassInputs {
  batch: number;
  seqLen: number;
  /** [T, B, I]; empty for a model with an embedding, which reads `ids`. */
  x: Float32Array;
  /** Token ids [T, B] (checked to be in range), for a model with an embedding; null otherwise. */
  ids: Int32Array | null;
  h0?: Float32Array;
  c0?: Float32Array;
  /** Each row's length [B], or null for T everywhere. */
  seqLens: Float32Array | null;
  /**
   * A training pass of a model with dropout between layers: the number of the training call
   * whose masks it draws (spec/dropout.ts dropoutKeys(seed, call, boundary)). Absent: no
   * dropout.
   */
  dropoutCall?: number;
}

/** Whether a pass of `inputs` drops: a training call of a model of several layers with dropout. */
export function dropsOut(spec: ModelSpec, inputs: PassInputs): boolean {
  return inputs.dropoutCall !== undefined && spec.dropout > 0 && spec.numLayers > 1;
}

/** Which rows the read-out (or, without one, y) takes: every step, or each row's final states (returnSequences false). */
export type ReadoutRows = 'steps' | 'final';

/** A forward pass's results, sequence-major. */
export interface PassResult {
  /** [T, B, D·H] */
  output: Float32Array;
  /** [L·D, B, H] */
  hN: Float32Array;
  /** [L·D, B, H], LSTM only */
  cN?: Float32Array;
  /** The read-out: [T, B, O], or [B, O] with rows 'final'; models with one only. */
  y?: Float32Array;
}

/** The gradients flowing into a pass's results: gradOutput [T, B, D·H], gradHN and gradCN [L·D, B, H]. */
export interface PassGradients {
  gradOutput: Float32Array;
  gradHN?: Float32Array;
  gradCN?: Float32Array;
}

/** A gradient pass's results: the parameters' gradients under PyTorch's names, the input's [T, B, I], the initial states', and the forward results. */
export interface GradientResult extends PassResult {
  params: StateDict;
  input: Float32Array;
  h0: Float32Array;
  c0?: Float32Array;
}

/** One training step, its loss rows prepared (train/loss-rows.ts). */
export interface TrainStepRequest {
  loss: 'mse' | 'cross-entropy';
  /** Targets of the rows the loss is on, and each row's weight. */
  targets: Float32Array;
  mask: Float32Array;
  rowsOn: 'all' | 'last' | 'final';
  /** 1 / (Σ mask · O) for MSE, 1 / Σ mask for cross-entropy. */
  scale: number;
  optimizer: ResolvedOptimizer;
  maxNorm: number;
  clipValue: number;
  readLoss: boolean;
  readNorm: boolean;
  readState: boolean;
}

/** What a training step reads back: the loss of each row, the gradient norm, the final states, as asked. */
export interface TrainStepReadback {
  lossRows?: Float32Array;
  norm?: number;
  hN?: Float32Array;
  cN?: Float32Array;
}

/** A stream's state and its one-step pass, kept by the backend between calls. */
export interface StreamExecution {
  /** Start from these states [L, B, H] (zeros where absent). */
  setStates(h0?: Float32Array, c0?: Float32Array): void;
  /** One step of x [B, I] (or, for a model that reads token ids, of ids [B] and an empty x): h_t of the last layer [B, H] and the read-out [B, O] where there is one. */
  step(x: Float32Array, ids: Int32Array | null): Promise<{ h: Float32Array; y?: Float32Array }>;
  /** The current states [L, B, H] (zeros where none was given or carried). */
  readStates(): Promise<{ h: Float32Array; c?: Float32Array }>;
  destroy(): void;
}

/**
 * One model on one backend. Calls arrive one at a time (the model orders them) and may be
 * asynchronous; `check` is called before each and after each wait.
 */
export interface ModelExecution {
  /** Throw a `destroyed` WebRnnError, naming `what`, once the backend can no longer run (its device lost or destroyed). */
  check(what: string): void;
  writeParameters(dict: Readonly<StateDict>): void;
  readParameters(): Promise<StateDict>;
  /** Compile what passes of `batches` rows will run (with `training`, also gradients and training steps), waiting for forms that would otherwise compile in the background. */
  warmup(batches: readonly number[], training: boolean): Promise<void>;
  forward(inputs: PassInputs, rows: ReadoutRows): Promise<PassResult>;
  gradients(inputs: PassInputs, grads: PassGradients, rows: ReadoutRows): Promise<GradientResult>;
  trainStep(inputs: PassInputs, request: TrainStepRequest): Promise<TrainStepReadback>;
  /** Whether optimizer state (moments, velocities, step count) is held. */
  readonly hasOptimizerState: boolean;
  resetOptimizer(): void;
  /** The optimizer's state, or null when none is held. */
  readOptimizerState(): Promise<OptimizerSnapshot | null>;
  /** Replace the optimizer's state (checked already: every trained parameter, its shape, a step ≥ 1). */
  writeOptimizerState(state: OptimizerSnapshot): void;
  openStream(batch: number): Promise<StreamExecution>;
  readonly lastForwardStats: ForwardStats | null;
  readonly lastTrainStats: { submits: number; dispatches: number } | null;
  /** Free everything the model holds; nothing runs afterwards. */
  release(): void;
}

/** A backend: makes model executions. */
export interface ModelBackend {
  /** 'webgpu' (and, later, 'wasm'). */
  readonly name: string;
  createModel(spec: ModelSpec): ModelExecution;
}
