/** Runtimes the tests share within a `describe`. */
import { afterAll, beforeAll } from 'vitest';
import { createRuntime, type Runtime } from '../../src/api/runtime.js';
import { RANDOM_MODEL } from './models.js';

/**
 * A one-lane and a two-lane runtime on the random model for the enclosing `describe`: opened
 * before its tests, closed after them. Read `.one` and `.two` inside the tests.
 *
 * @example
 * ```ts
 * describe('cascades', () => {
 *   const runtimes = oneAndTwoLanes();
 *   it('…', async () => expect(runtimes.two.lanes).toHaveLength(2));
 * });
 * ```
 */
export function oneAndTwoLanes(): { readonly one: Runtime; readonly two: Runtime } {
  const runtimes = {} as { one: Runtime; two: Runtime };
  beforeAll(async () => {
    [runtimes.one, runtimes.two] = await Promise.all([createRuntime({ lanes: 1, model: RANDOM_MODEL }), createRuntime({ lanes: 2, model: RANDOM_MODEL })]);
  });
  afterAll(async () => {
    await Promise.all([runtimes.one?.close(), runtimes.two?.close()]);
  });
  return runtimes;
}
