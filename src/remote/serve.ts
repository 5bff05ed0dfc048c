/**
 * The worker's side: an engine made on the page's request, its models and streams kept by
 * handle, each call run and answered (remote/protocol.ts).
 */
import { createEngine, type Engine, type EngineOptions } from '../engine.js';
import { WebRnnError } from '../errors.js';
import { RecurrentModel } from '../model/recurrent-model.js';
import type { LoadOptions } from '../io/load.js';
import type { OnnxModel } from '../io/onnx-model.js';
import type { RecurrentStream } from '../model/stream.js';
import { CALLBACK, SIGNAL, transferables, type FromWorker, type MessageEndpoint, type ToWorker } from './protocol.js';

/** What a model handle may be called with: RecurrentModel's methods and getters. */
const MODEL_METHODS = new Set(['forward', 'gradients', 'trainStep', 'trainSequence', 'evaluate', 'fit', 'save', 'stateDict', 'loadStateDict', 'initialize', 'resetOptimizer', 'resetStates', 'exportOnnx', 'warmup', 'stream', 'destroy']);
const MODEL_GETTERS = new Set(['optimizer', 'dropoutCalls', 'lastTrainStats', 'lastForwardStats']);
const STREAM_METHODS = new Set(['step', 'state', 'reset', 'close']);

/**
 * Serve an engine to the page at the other end of `endpoint` (in a worker: `serveEngine(self)`),
 * until it asks for the engine to be destroyed. See connectEngine.
 */
export function serveEngine(endpoint: MessageEndpoint): void {
  let engine: Engine | null = null;
  const objects = new Map<number, RecurrentModel | RecurrentStream>();
  const aborts = new Map<number, AbortController>();
  let next = 1;
  const post = (message: FromWorker, transfer: ArrayBuffer[] = []): void => endpoint.postMessage(message, transfer);
  const keep = (o: RecurrentModel | RecurrentStream): number => {
    objects.set(next, o);
    return next++;
  };
  const describe = (m: RecurrentModel): { handle: number; spec: RecurrentModel['spec'] } => ({ handle: keep(m), spec: m.spec });

  /** Options with the page's callbacks and signal put back as functions and an AbortSignal. */
  const revive = (id: number, args: unknown[]): unknown[] =>
    args.map((a) => {
      if (a === null || typeof a !== 'object' || ArrayBuffer.isView(a) || Array.isArray(a)) return a;
      const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
      for (const [k, v] of Object.entries(out)) {
        if (v !== null && typeof v === 'object' && CALLBACK in v) out[k] = (value: unknown) => post({ kind: 'event', id, name: k, value });
        else if (v !== null && typeof v === 'object' && SIGNAL in v) {
          const controller = new AbortController();
          aborts.set(id, controller);
          out[k] = controller.signal;
        }
      }
      return out;
    });

  async function run(target: number, method: string, args: unknown[]): Promise<unknown> {
    if (target === 0) {
      if (method === 'create') {
        if (engine) throw new WebRnnError('invalid-option', 'connectEngine: this worker already serves an engine');
        engine = await createEngine(args[0] as EngineOptions);
        return engine.info;
      }
      if (!engine) throw new WebRnnError('destroyed', `engine.${method}: no engine`);
      if (method === 'lstm' || method === 'gru' || method === 'rnn' || method === 'stack') return describe(engine[method](args[0] as never));
      if (method === 'load') {
        const model: RecurrentModel | OnnxModel = await engine.load(args[0] as Uint8Array, args[1] as LoadOptions);
        if (!(model instanceof RecurrentModel)) {
          model.destroy();
          throw new WebRnnError('invalid-option', 'engine.load in a worker: ONNX graphs are not served; load the safetensors or TensorFlow.js model, or run the ONNX model in the page');
        }
        return describe(model);
      }
      if (method === 'info') return engine.info;
      if (method === 'memory') return engine.memory;
      if (method === 'destroy') {
        engine.destroy();
        objects.clear();
        return undefined;
      }
      throw new WebRnnError('invalid-option', `engine.${method} is not served to a page`);
    }
    const o = objects.get(target);
    if (!o) throw new WebRnnError('destroyed', `${method}: the model or stream is gone`);
    if (o instanceof RecurrentModel) {
      if (method === 'get' && MODEL_GETTERS.has(String(args[0]))) return o[args[0] as 'optimizer'];
      if (!MODEL_METHODS.has(method)) throw new WebRnnError('invalid-option', `model.${method} is not served to a page`);
      if (method === 'stream') return keep(o.stream(args[0] as never));
      if (method === 'destroy') objects.delete(target);
      return (o[method as 'forward'] as (...a: unknown[]) => unknown)(...args);
    }
    if (!STREAM_METHODS.has(method)) throw new WebRnnError('invalid-option', `stream.${method} is not served to a page`);
    if (method === 'close') objects.delete(target);
    return (o[method as 'step'] as (...a: unknown[]) => unknown)(...args);
  }

  const listener = (event: MessageEvent): void => {
    const m = event.data as ToWorker;
    if (m?.kind === 'abort') {
      aborts.get(m.id)?.abort();
      return;
    }
    if (m?.kind !== 'call') return;
    Promise.resolve()
      .then(() => run(m.target, m.method, revive(m.id, m.args)))
      .then(
        (value) => post({ kind: 'result', id: m.id, value }, transferables(value)),
        (e: unknown) => {
          const err = e instanceof Error ? e : new Error(String(e));
          post({ kind: 'error', id: m.id, error: { name: err.name, code: e instanceof WebRnnError ? e.code : undefined, message: err.message } });
        },
      )
      .finally(() => aborts.delete(m.id));
  };
  endpoint.addEventListener('message', listener);
  endpoint.start?.();
}
