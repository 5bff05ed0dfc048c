/** Assertions on webrnn's errors. */
import { expect } from 'vitest';
import { WebRnnError } from '../../src/errors.js';

/** `fn` throws a WebRnnError with code 'invalid-option' whose message matches `pattern`. */
export function expectInvalidOption(fn: () => unknown, pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(WebRnnError);
  expect((caught as WebRnnError).code).toBe('invalid-option');
  expect((caught as WebRnnError).message).toMatch(pattern);
}
