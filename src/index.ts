/**
 * webrnn: recurrent neural networks (Elman RNN, LSTM, GRU) on WebGPU.
 *
 * ```ts
 * const engine = await createEngine();
 * const lstm = engine.lstm({ inputSize: 8, hiddenSize: 32 });
 * const { output, hN, cN } = await lstm.forward(x, { batch: 4, seqLen: 100 });
 * ```
 */
export { createEngine, Engine, type EngineOptions } from './engine.js';
export type { AdapterDescription, GpuOptions } from './gpu/device.js';
export { RecurrentModel, type ForwardOptions, type ForwardOutput } from './model/recurrent-model.js';
export type { ForwardStats } from './schedule/forward.js';
export type { CellKind, GruOptions, ModelSpec, RecurrentOptions, RnnOptions } from './model/spec.js';
export { parameterInfo, gateCount, type ParameterInfo } from './model/spec.js';
export type { StateDict } from './model/parameters.js';
export type { Nonlinearity } from './kernels/rnn-cell-forward.js';
export { recurrentForwardReference, type ReferenceForwardOptions, type ReferenceForwardResult } from './reference/recurrent-forward.js';
export {
  WebRnnError,
  GpuUnavailableError,
  GpuError,
  ShapeError,
  LimitError,
  NonFiniteError,
  type WebRnnErrorCode,
} from './errors.js';
