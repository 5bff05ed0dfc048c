/**
 * The states a stateful model (Keras's stateful) carries from one call to the next: what a
 * call starts from when it is given no h0/c0, and what it leaves.
 */
import { WebRnnError } from '../errors.js';
import type { ModelSpec } from '../spec/spec.js';

export class CarriedStates {
  private h: Float32Array | null = null;
  private c: Float32Array | null = null;
  private batch = 0;

  constructor(private readonly spec: ModelSpec) {}

  /** Whether calls carry states (the model is stateful). */
  get active(): boolean {
    return this.spec.stateful;
  }

  /** The initial states of a call of B rows: those given, else (stateful) the carried ones, else none (zeros). */
  initial(what: string, B: number, h0: Float32Array | undefined, c0: Float32Array | undefined): { h0?: Float32Array; c0?: Float32Array } {
    if (!this.spec.stateful || !this.h || h0 || c0) return { h0, c0 };
    if (B !== this.batch) throw new WebRnnError('invalid-option', `${what}: this stateful model carries the states of a batch of ${this.batch}, not ${B}; call resetStates() first`);
    return { h0: this.h.slice(), c0: this.c?.slice() };
  }

  /** Keep a call's final states [L·D, B, H] for the next call. */
  keep(B: number, hN: Float32Array | undefined, cN: Float32Array | undefined): void {
    if (!this.spec.stateful || !hN) return;
    this.h = hN.slice();
    this.c = cN?.slice() ?? null;
    this.batch = B;
  }

  reset(): void {
    this.h = this.c = null;
  }
}
