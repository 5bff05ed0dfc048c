/**
 * The page's side: an engine that runs in a worker (serveEngine there), its models and streams
 * as proxies whose methods are those of RecurrentModel and RecurrentStream, each a message and
 * an answer (remote/protocol.ts). The page's thread only posts and receives: a long fit or a
 * large forward runs without holding up its input and painting.
 */
import type { EngineInfo, EngineOptions } from '../engine.js';
import { WebRnnError, type WebRnnErrorCode } from '../errors.js';
import type { LoadOptions } from '../io/load.js';
import type { TfjsModelSource } from '../io/tfjs.js';
import type { RecurrentModel } from '../model/recurrent-model.js';
import type { RecurrentStream, StreamOptions } from '../model/stream.js';
import type { GruOptions, LstmOptions, ModelSpec, RnnOptions } from '../spec/spec.js';
import type { StackOptions } from '../spec/stack.js';
import { CALLBACK, SIGNAL, type CallMessage, type FromWorker, type MessageEndpoint } from './protocol.js';

/** The methods of T, each answering a promise (what a call through a worker gives). */
type Remote<T, Keys extends keyof T> = { [K in Keys]: T[K] extends (...a: infer A) => infer R ? (...a: A) => Promise<Awaited<R>> : never };

type ModelMethods = 'forward' | 'gradients' | 'trainStep' | 'trainSequence' | 'evaluate' | 'fit' | 'save' | 'stateDict' | 'loadStateDict' | 'initialize' | 'resetOptimizer' | 'resetStates' | 'exportOnnx' | 'warmup';

/** The connection: one endpoint, calls by number, their answers and callbacks. */
class Connection {
  private next = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void; callbacks: Record<string, (v: unknown) => void> }>();

  constructor(private readonly endpoint: MessageEndpoint) {
    endpoint.addEventListener('message', this.listener);
    endpoint.start?.();
  }

  private readonly listener = (event: MessageEvent): void => {
    const m = event.data as FromWorker;
    const call = this.pending.get(m?.id);
    if (!call) return;
    if (m.kind === 'event') {
      call.callbacks[m.name]?.(m.value);
      return;
    }
    this.pending.delete(m.id);
    if (m.kind === 'result') call.resolve(m.value);
    else call.reject(m.error.code ? Object.assign(new WebRnnError(m.error.code as WebRnnErrorCode, m.error.message), { name: m.error.name }) : Object.assign(new Error(m.error.message), { name: m.error.name }));
  };

  /** Call `method` of `target` with `args`; functions and an AbortSignal in an options object travel as markers. */
  call(target: number, method: string, args: unknown[]): Promise<unknown> {
    const id = this.next++;
    const callbacks: Record<string, (v: unknown) => void> = {};
    let signal: AbortSignal | undefined;
    const sent = args.map((a) => {
      if (a === null || typeof a !== 'object' || ArrayBuffer.isView(a) || Array.isArray(a)) return a;
      const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
      for (const [k, v] of Object.entries(out)) {
        if (typeof v === 'function') {
          callbacks[k] = v as (x: unknown) => void;
          out[k] = { [CALLBACK]: true };
        } else if (typeof AbortSignal !== 'undefined' && v instanceof AbortSignal) {
          signal = v;
          out[k] = { [SIGNAL]: true };
        }
      }
      return out;
    });
    const abort = (): void => this.endpoint.postMessage({ kind: 'abort', id });
    // The signal's listener goes with the call.
    const settled = <T>(f: (v: T) => void) => (v: T): void => {
      signal?.removeEventListener('abort', abort);
      f(v);
    };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: settled(resolve), reject: settled(reject), callbacks });
      const message: CallMessage = { kind: 'call', id, target, method, args: sent };
      try {
        this.endpoint.postMessage(message);
      } catch (e) {
        this.pending.delete(id);
        reject(new WebRnnError('invalid-option', `${method}: its arguments cannot be sent to the worker (${(e as Error).message})`));
        return;
      }
      if (signal) {
        if (signal.aborted) abort();
        else signal.addEventListener('abort', abort, { once: true });
      }
    });
  }

  close(): void {
    this.endpoint.removeEventListener('message', this.listener);
    for (const call of this.pending.values()) call.reject(new WebRnnError('destroyed', 'the connection to the worker was closed'));
    this.pending.clear();
  }
}

/** A stream of a model in the worker: RecurrentStream's methods. */
export type RemoteStream = Remote<RecurrentStream, 'step' | 'state' | 'reset'> & { close(): Promise<void> };

/** A model in the worker: RecurrentModel's methods (each async), its spec, and its streams. */
export type RemoteModel = Remote<RecurrentModel, ModelMethods> & {
  readonly spec: ModelSpec;
  /** RecurrentModel's getter of that name, read from the worker. */
  get<G extends 'optimizer' | 'dropoutCalls' | 'lastTrainStats' | 'lastForwardStats'>(name: G): Promise<RecurrentModel[G]>;
  stream(options: StreamOptions): Promise<RemoteStream>;
  destroy(): Promise<void>;
};

/** An engine in a worker: what Engine makes and loads, as RemoteModels. */
export interface RemoteEngine {
  /** The engine's backend and why (as `engine.info` in the worker says). */
  readonly info: EngineInfo;
  rnn(options: RnnOptions): Promise<RemoteModel>;
  lstm(options: LstmOptions): Promise<RemoteModel>;
  gru(options: GruOptions): Promise<RemoteModel>;
  /** As Engine.stack: layers that differ in cell, width or direction. */
  stack(options: StackOptions): Promise<RemoteModel>;
  /** As Engine.load, for safetensors and TensorFlow.js models (bytes are copied to the worker). */
  load(source: Uint8Array | ArrayBuffer | string | TfjsModelSource, options?: LoadOptions): Promise<RemoteModel>;
  memory(): Promise<{ buffers: number; bytes: number }>;
  /** Destroy the engine in the worker and stop listening (the worker itself is the page's to terminate). */
  destroy(): Promise<void>;
}

const MODEL_METHODS: readonly ModelMethods[] = ['forward', 'gradients', 'trainStep', 'trainSequence', 'evaluate', 'fit', 'save', 'stateDict', 'loadStateDict', 'initialize', 'resetOptimizer', 'resetStates', 'exportOnnx', 'warmup'];

function remoteModel(c: Connection, described: unknown): RemoteModel {
  const { handle, spec } = described as { handle: number; spec: ModelSpec };
  const model: Record<string, unknown> = { spec };
  for (const m of MODEL_METHODS) model[m] = (...args: unknown[]) => c.call(handle, m, args);
  model.get = (name: string) => c.call(handle, 'get', [name]);
  model.destroy = async () => void (await c.call(handle, 'destroy', []));
  model.stream = async (options: StreamOptions) => {
    const stream = (await c.call(handle, 'stream', [options])) as number;
    return {
      step: (x: Float32Array | Int32Array) => c.call(stream, 'step', [x]),
      state: () => c.call(stream, 'state', []),
      reset: (state?: unknown) => c.call(stream, 'reset', state === undefined ? [] : [state]),
      close: async () => void (await c.call(stream, 'close', [])),
    };
  };
  return model as RemoteModel;
}

/**
 * An engine in the worker at the other end of `endpoint` (a Worker whose script calls
 * `serveEngine(self)`, or a MessagePort), made there with `options` as createEngine makes one.
 *
 * ```ts
 * // engine-worker.js: import { serveEngine } from 'webrnn/worker'; serveEngine(self);
 * const engine = await connectEngine(new Worker(new URL('./engine-worker.js', import.meta.url), { type: 'module' }));
 * const model = await engine.lstm({ inputSize: 8, hiddenSize: 64, outputSize: 2 });
 * await model.fit(x, y, { batch: N, seqLen: T, loss: 'mse', optimizer, onProgress: (p) => show(p) });
 * ```
 */
export async function connectEngine(endpoint: MessageEndpoint, options: EngineOptions = {}): Promise<RemoteEngine> {
  const c = new Connection(endpoint);
  let info: EngineInfo;
  try {
    info = (await c.call(0, 'create', [options])) as EngineInfo;
  } catch (e) {
    c.close();
    throw e;
  }
  const make = (kind: 'rnn' | 'lstm' | 'gru' | 'stack') => async (o: unknown) => remoteModel(c, await c.call(0, kind, [o]));
  return {
    info,
    rnn: make('rnn'),
    lstm: make('lstm'),
    gru: make('gru'),
    stack: make('stack'),
    load: async (source, o = {}) => remoteModel(c, await c.call(0, 'load', [source, o])),
    memory: () => c.call(0, 'memory', []) as Promise<{ buffers: number; bytes: number }>,
    destroy: async () => {
      await c.call(0, 'destroy', []);
      c.close();
    },
  };
}
