/**
 * Seed of a test file's random inputs: fresh each run, or fixed with WEBRNN_TEST_SEED to
 * replay a failure. Each file prints the seed it used.
 */
import { createRandom, type Random } from '../../src/spec/random.js';

export function testRandom(file: string): { seed: number; rng: Random } {
  const fixed = process.env.WEBRNN_TEST_SEED;
  const seed = fixed !== undefined ? Number(fixed) : Math.floor(Math.random() * 2 ** 31);
  console.info(`${file}: WEBRNN_TEST_SEED=${seed}`);
  return { seed, rng: createRandom(seed) };
}
