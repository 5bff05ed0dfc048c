/**
 * Errors thrown by webrnn. Every error is a {@link WebRnnError} with a stable `code`; the
 * subclasses carry the facts a caller needs to act on (the tensor and its shapes, the
 * device limit, what was tried).
 */

/** What kind of failure a {@link WebRnnError} reports. */
export type WebRnnErrorCode =
  | 'gpu-unavailable'
  | 'gpu-error'
  | 'device-lost'
  | 'shape'
  | 'limit'
  | 'non-finite'
  | 'state-dict'
  | 'invalid-option'
  | 'invalid-file'
  | 'destroyed';

/** Base class of every error webrnn throws. */
export class WebRnnError extends Error {
  readonly code: WebRnnErrorCode;
  constructor(code: WebRnnErrorCode, message: string) {
    super(message);
    this.name = 'WebRnnError';
    this.code = code;
  }
}

/** No WebGPU adapter or device could be obtained. `tried` lists each attempt and its outcome. */
export class GpuUnavailableError extends WebRnnError {
  readonly tried: readonly string[];
  constructor(message: string, tried: readonly string[]) {
    super('gpu-unavailable', `${message}\nTried:\n${tried.map((t) => `  - ${t}`).join('\n')}`);
    this.name = 'GpuUnavailableError';
    this.tried = tried;
  }
}

/** The GPU reported a validation or out-of-memory error, or the device was lost. */
export class GpuError extends WebRnnError {
  constructor(code: 'gpu-error' | 'device-lost', message: string) {
    super(code, message);
    this.name = 'GpuError';
  }
}

/** Format a shape as `[2, 3, 4]`. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** A tensor has the wrong size. `expected` is the shape asked for, `actual` what was given. */
export class ShapeError extends WebRnnError {
  readonly tensor: string;
  readonly expected: readonly number[];
  readonly actual: readonly number[];
  constructor(tensor: string, expected: readonly number[], actual: readonly number[], detail = '') {
    super(
      'shape',
      `${tensor}: expected shape ${formatShape(expected)} (${expected.reduce((a, b) => a * b, 1)} elements), ` +
        `got ${formatShape(actual)} (${actual.reduce((a, b) => a * b, 1)} elements)${detail ? `; ${detail}` : ''}`,
    );
    this.name = 'ShapeError';
    this.tensor = tensor;
    this.expected = expected;
    this.actual = actual;
  }
}

/** A size exceeds a limit of the GPU device; `limit` is the name of the GPUSupportedLimits field. */
export class LimitError extends WebRnnError {
  readonly limit: string;
  readonly required: number;
  readonly max: number;
  constructor(limit: string, required: number, max: number, what: string) {
    super('limit', `${what} needs ${required}, beyond the device limit ${limit} = ${max}`);
    this.name = 'LimitError';
    this.limit = limit;
    this.required = required;
    this.max = max;
  }
}

/** A tensor checked for finiteness holds NaN or ±Infinity. */
export class NonFiniteError extends WebRnnError {
  readonly tensor: string;
  readonly index: number;
  readonly value: number;
  constructor(tensor: string, index: number, value: number) {
    super('non-finite', `${tensor}: element ${index} is ${value}; finite values expected`);
    this.name = 'NonFiniteError';
    this.tensor = tensor;
    this.index = index;
    this.value = value;
  }
}
