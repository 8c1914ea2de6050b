/** Model packages the tests use. */
import { join } from 'node:path';
import { ROOT } from './cli.js';

/**
 * The random-weight package from the model builder (`models/random`): its outputs are smooth
 * functions of the inputs, so numeric bounds tuned on it (drift between schedules) do not
 * depend on what a training run happened to learn.
 */
export const RANDOM_MODEL = join(ROOT, 'models', 'random');
