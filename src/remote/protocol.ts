/**
 * The messages between a page and the engine it runs in a worker (remote/connect.ts, remote/
 * serve.ts), over anything with postMessage and a 'message' event (a Worker, the worker's own
 * scope, a MessagePort). Arrays travel by structured clone; results' buffers are transferred.
 */

/** Anything messages go through. */
export interface MessageEndpoint {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  /** A MessagePort's: messages flow once started (a Worker's and a worker scope's always do). */
  start?(): void;
}

/** A call: on the engine (target 0), a model or a stream (their handles). */
export interface CallMessage {
  kind: 'call';
  id: number;
  target: number;
  method: string;
  args: unknown[];
}

/** Stop the call `id` (its options' AbortSignal fired). */
export interface AbortMessage {
  kind: 'abort';
  id: number;
}

export interface ResultMessage {
  kind: 'result';
  id: number;
  value: unknown;
}

export interface ErrorMessage {
  kind: 'error';
  id: number;
  /** `code`: a WebRnnError's. */
  error: { name: string; code?: string; message: string };
}

/** A callback of the call `id` (fit's onProgress, onEpochEnd) called in the worker. */
export interface EventMessage {
  kind: 'event';
  id: number;
  name: string;
  value: unknown;
}

export type ToWorker = CallMessage | AbortMessage;
export type FromWorker = ResultMessage | ErrorMessage | EventMessage;

/** In a call's options: a function the worker calls back (by its option's name), or an AbortSignal. */
export const CALLBACK = '__webrnnCallback';
export const SIGNAL = '__webrnnSignal';

/** The buffers of the typed arrays in `value` (itself, its fields, their fields), once each. */
export function transferables(value: unknown, depth = 3, out = new Set<ArrayBuffer>()): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === value.buffer.byteLength) out.add(value.buffer);
  } else if (value instanceof ArrayBuffer) out.add(value);
  else if (depth > 0 && value !== null && typeof value === 'object') for (const v of Object.values(value)) transferables(v, depth - 1, out);
  return [...out];
}
