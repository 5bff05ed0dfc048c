/** Argument checks shared by the HMM modules (hmm.ts, hmm-lifted.ts). */
import { WebRnnError } from '../errors.js';

/** An invalid-option error with `message`. */
export function invalid(message: string): WebRnnError {
  return new WebRnnError('invalid-option', message);
}

/** Whether `v` has a numeric length (an array or a typed array). */
export function isArrayLike(v: unknown): v is ArrayLike<number> {
  return v !== null && typeof v === 'object' && typeof (v as { length?: unknown }).length === 'number';
}

/** Check that every o_t is an integer symbol in [0, V). */
export function checkObservations(what: string, obs: unknown, V: number): ArrayLike<number> {
  if (!isArrayLike(obs)) throw invalid(`${what}: observations must be an array of symbol indices`);
  for (let t = 0; t < obs.length; t++) {
    const o = obs[t];
    if (!Number.isInteger(o) || o < 0 || o >= V) throw invalid(`${what}: observation ${t} is ${String(o)}; integers in [0, ${V}) expected`);
  }
  return obs;
}

/** Check an array of observation sequences, each as checkObservations does. */
export function checkSequences(what: string, sequences: unknown, V: number): ReadonlyArray<ArrayLike<number>> {
  if (!Array.isArray(sequences)) throw invalid(`${what}: an array of observation sequences expected`);
  sequences.forEach((s, b) => checkObservations(`${what}: sequence ${b}`, s, V));
  return sequences as ReadonlyArray<ArrayLike<number>>;
}
