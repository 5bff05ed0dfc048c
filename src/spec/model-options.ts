/** The weights' precision (RecurrentOptions.weightPrecision), resolved. */
import { WebRnnError } from '../errors.js';
import type { ModelSpec } from './spec.js';

export function resolvePrecision(p: unknown, projSize: number): ModelSpec['weightPrecision'] {
  if (p === undefined || p === 'f32') return 'f32';
  if (p !== 'f16') throw new WebRnnError('invalid-option', `weightPrecision must be 'f32' or 'f16', got ${String(p)}`);
  // A projecting layer's recurrence is the product W_hh·W_hr, formed in float32.
  if (projSize) throw new WebRnnError('invalid-option', "weightPrecision 'f16' with projSize is not supported");
  return p;
}
