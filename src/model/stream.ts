/**
 * Streaming inference: one time step per call, the recurrent state kept by the backend
 * between calls (a StreamExecution, model/backend.ts).
 */
import { ShapeError, WebRnnError } from '../errors.js';
import type { StreamExecution } from './backend.js';
import { describeLayers, hasCellState, stateShape, stateSize, type ModelSpec } from '../spec/spec.js';
import { checkFinite } from '../arrays.js';
import { checkIds } from '../spec/embedding.js';

/** Options of `model.stream`. */
export interface StreamOptions {
  /** Independent streams advanced together (B). */
  batch: number;
  /** Initial hidden state [L, B, H]; zeros when absent. */
  h0?: Float32Array;
  /** Initial cell state [L, B, H], LSTM only; zeros when absent. */
  c0?: Float32Array;
  /** Check inputs for NaN and ±Infinity (default: the model's `checkFinite` option). */
  checkFinite?: boolean;
}

/** What one step returns. */
export interface StreamStepOutput {
  /** The last layer's hidden state h_t, [B, H]. */
  h: Float32Array;
  /**
   * The model's output y_t: the read-out [B, O], or h_t itself (the same array) without one.
   * Streams run unidirectional models, whose final state after step t is h_t, so this is what
   * forward gives for sequences that end at t, with or without returnSequences.
   */
  y: Float32Array;
}

/** @internal What a stream needs from its model. */
export interface StreamHost {
  spec: ModelSpec;
  /** A fresh one-step execution for `batch` rows, owned by the stream. */
  open(batch: number): Promise<StreamExecution>;
  /** Run after every earlier queued operation of the model. */
  serialize<T>(fn: () => Promise<T>): Promise<T>;
  /** Throw unless the model is alive. */
  assertAlive(what: string): void;
  /** The stream has closed. */
  onClose(stream: RecurrentStream): void;
}

/**
 * A recurrent model run one step at a time (from `model.stream`). Calls are queued with the
 * model's other work, in order; `step`, `reset` and `state` return promises.
 */
export class RecurrentStream {
  readonly batch: number;
  private plan: Promise<StreamExecution> | null = null;
  /** Steps taken since the stream was made or last reset. */
  private taken = 0;
  private closed = false;
  private readonly check: boolean;

  /** @internal Use `model.stream`. */
  constructor(
    private readonly host: StreamHost,
    options: StreamOptions,
  ) {
    const { spec } = host;
    if (options === null || typeof options !== 'object') throw new WebRnnError('invalid-option', 'stream: options { batch } expected');
    for (const key of Object.keys(options)) {
      if (!['batch', 'h0', 'c0', 'checkFinite'].includes(key)) throw new WebRnnError('invalid-option', `stream: unknown option '${key}'`);
    }
    if (spec.layers.some((l) => l.numDirections !== 1)) {
      throw new WebRnnError('invalid-option', 'stream: a bidirectional model needs the whole sequence (its reverse direction starts at the end); use forward');
    }
    const B = options.batch;
    if (!Number.isInteger(B) || B < 1) throw new WebRnnError('invalid-option', `stream: batch must be a positive integer, got ${String(B)}`);
    this.batch = B;
    this.check = options.checkFinite ?? spec.checkFinite;
    const initial = this.checkStates('stream', options.h0, options.c0);
    this.plan = this.host.serialize(async () => {
      const plan = await host.open(B);
      plan.setStates(initial.h0, initial.c0);
      return plan;
    });
    // A failure to build the plan surfaces at the first call that waits for it.
    this.plan.catch(() => undefined);
  }

  /** Steps taken since the stream was made or last reset. */
  get steps(): number {
    return this.taken;
  }

  /**
   * Advance every stream of the batch by one step.
   *
   * @param x the inputs x_t, [B, I], or for a model that reads token ids an Int32Array of ids [B]
   * @returns h_t of the last layer [B, H], and y_t (the read-out [B, O], or h_t)
   */
  step(x: Float32Array | Int32Array): Promise<StreamStepOutput> {
    this.assertOpen('step');
    const { spec } = this.host;
    let input = new Float32Array(0);
    let ids: Int32Array | null = null;
    if (spec.embedding) {
      ids = checkIds(spec, 'stream step: x', x, [this.batch]).slice();
      // A step cannot leave a row out: under maskZero, padding ends a sequence rather than stepping it.
      if (spec.embedding.maskZero && ids.includes(0)) throw new WebRnnError('invalid-option', `stream step: id 0 at row ${ids.indexOf(0)} is padding under maskZero, which a stream step cannot skip; step only the ids of real steps`);
    } else {
      if (!(x instanceof Float32Array)) throw new WebRnnError('invalid-option', 'stream step: x must be a Float32Array [B, I]');
      if (x.length !== this.batch * spec.inputSize) throw new ShapeError('x', [this.batch, spec.inputSize], [x.length]);
      if (this.check) checkFinite('x', x);
      input = x.slice();
    }
    return this.host.serialize(async () => {
      this.assertOpen('step');
      const plan = await this.plan!;
      const r = await plan.step(input, ids);
      this.taken++;
      return { h: r.h, y: r.y ?? r.h };
    });
  }

  /** Start over: from the given states [L, B, H], or from zeros. */
  reset(state: { h0?: Float32Array; c0?: Float32Array } = {}): Promise<void> {
    this.assertOpen('reset');
    const initial = this.checkStates('stream reset', state.h0, state.c0);
    return this.host.serialize(async () => {
      this.assertOpen('reset');
      const plan = await this.plan!;
      plan.setStates(initial.h0, initial.c0);
      this.taken = 0;
    });
  }

  /** The current state: h [L, B, H] (and c [L, B, H] for an LSTM), read from the backend. */
  state(): Promise<{ h: Float32Array; c?: Float32Array }> {
    this.assertOpen('state');
    return this.host.serialize(async () => {
      this.assertOpen('state');
      const plan = await this.plan!;
      return plan.readStates();
    });
  }

  /** Release what the stream holds on the backend; later calls throw. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.host.onClose(this);
    const plan = this.plan;
    this.plan = null;
    // After whatever is queued: the buffers go once the model is done with them.
    void this.host.serialize(async () => (await plan)?.destroy()).catch(() => undefined);
  }

  private checkStates(what: string, h0: Float32Array | undefined, c0: Float32Array | undefined): { h0?: Float32Array; c0?: Float32Array } {
    const { spec } = this.host;
    const shape = stateShape(spec, this.batch);
    if (h0 !== undefined) {
      if (!(h0 instanceof Float32Array)) throw new WebRnnError('invalid-option', `${what}: h0 must be a Float32Array [${shape.join(', ')}]`);
      if (h0.length !== stateSize(spec, this.batch)) throw new ShapeError('h0', shape, [h0.length]);
      if (this.check) checkFinite('h0', h0);
    }
    if (c0 !== undefined) {
      const cells = stateShape(spec, this.batch, true);
      if (!hasCellState(spec)) throw new WebRnnError('invalid-option', `${what}: c0 is only for LSTM models (or stacks with LSTM layers), this is ${describeLayers(spec)}`);
      if (!(c0 instanceof Float32Array)) throw new WebRnnError('invalid-option', `${what}: c0 must be a Float32Array [${cells.join(', ')}]`);
      if (c0.length !== stateSize(spec, this.batch, true)) throw new ShapeError('c0', cells, [c0.length]);
      if (this.check) checkFinite('c0', c0);
    }
    return { h0: h0?.slice(), c0: c0?.slice() };
  }

  private assertOpen(what: string): void {
    if (this.closed) throw new WebRnnError('destroyed', `stream ${what}: the stream has been closed`);
    this.host.assertAlive(`stream ${what}`);
  }
}
