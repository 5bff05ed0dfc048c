/**
 * webrnn: recurrent neural networks (Elman RNN, LSTM, GRU) on WebGPU.
 *
 * ```ts
 * const engine = await createEngine();
 * const lstm = engine.lstm({ inputSize: 8, hiddenSize: 32 });
 * const { output, hN, cN } = await lstm.forward(x, { batch: 4, seqLen: 100 });
 * ```
 */
/// <reference types="@webgpu/types" preserve="true" />
export { createEngine, Engine, type EngineOptions, type EngineInfo, type WebGpuEngineInfo, type WasmEngineInfo } from './engine.js';
export type { WasmCeilings, WasmCeilingOptions } from './backends/wasm/ceilings.js';
export type { AdapterDescription, GpuOptions } from './gpu/device.js';
export { RecurrentStream, type StreamOptions, type StreamStepOutput } from './model/stream.js';
export { RecurrentModel, type CellStates, type ForwardOptions, type ForwardOutput, type ForwardOutputBase, type GradientOptions, type GradientOutput, type GradientOutputBase, type SaveOptions, type WarmupOptions } from './model/recurrent-model.js';
export type {
  AdamConfig,
  LossKind,
  OptimizerConfig,
  SgdConfig,
  TrainSequenceOptions,
  TrainSequenceResult,
  TrainStepOptions,
  TrainStepResult,
  TrainStepResultFor,
} from './train/options.js';
export type { EvaluateOptions, EvaluateResult } from './train/evaluate.js';
export type { FitEpoch, FitHistory, FitOptions, FitProgress, LearningRateSchedule, ValidationData } from './train/fit.js';
export type { InitOptions } from './model/init.js';
export type { LoadOptions } from './io/load.js';
export type { TfjsModelSource } from './io/tfjs.js';
export type { OnnxModel, OnnxFeed, OnnxInputInfo, OnnxValue } from './io/onnx-model.js';
export type { CellFunction, CellFunctionName, CellOptions } from './spec/cell-functions.js';
export { readSafetensors, writeSafetensors, type SafetensorsFile, type SafetensorsTensor, type SafetensorsDtype } from './io/safetensors.js';
export type { ForwardStats } from './model/backend.js';
export { placementFor, type AdapterProfile, type Placement, type WorkShape } from './placement/rules.js';
export { DEFAULT_PLACEMENT, type PlacementTable } from './placement/table.js';
export type { CellKind, GruOptions, LayerSpec, ModelSpec, RecurrentOptions, RnnOptions } from './spec/spec.js';
export type { StackLayerOptions, StackOptions } from './spec/stack.js';
export { parameterInfo, gateCount, type ParameterInfo } from './spec/spec.js';
export type { StateDict } from './spec/parameters.js';
export type { Nonlinearity } from './spec/spec.js';
export { recurrentForwardReference, type ReferenceForwardOptions, type ReferenceForwardResult } from './reference/recurrent-forward.js';
export { recurrentBackwardReference, type ReferenceGradientOptions, type ReferenceGradients } from './reference/recurrent-backward.js';
export {
  WebRnnError,
  GpuUnavailableError,
  GpuError,
  ShapeError,
  LimitError,
  NonFiniteError,
  type WebRnnErrorCode,
} from './errors.js';
// The theory toolkit: linear-Gaussian state-space models (Kalman filter, RTS smoother), linear
// RNNs as VARMA models, HMMs as RNNs, gradient-path and norm-growth facts, memory time constants.
export { matrix, matrixFromRows, matrixToRows, type Matrix } from './analysis/linear-algebra.js';
export * from './analysis/state-space.js';
export * from './analysis/varma.js';
export * from './analysis/hmm.js';
export * from './analysis/hmm-lifted.js';
export * from './analysis/recurrence-theory.js';
export * from './analysis/time-constants.js';
export * from './analysis/gradient-diagnostics.js';
export * from './analysis/filtering.js';
export * from './analysis/ode-solvers.js';
export { eigenvalues, matrixExponential, powerNorms, spectralRadius, type Complex } from './analysis/matrix-functions.js';
