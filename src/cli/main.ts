/**
 * Entry point of the `block-cascade` command (`bin/block-cascade.js` imports this module):
 * parses `process.argv` and runs the command. Commands set `process.exitCode` themselves.
 */
import { createProgram } from './program.js';
import { reportError } from './report-error.js';

try {
  await (await createProgram(process.argv)).parseAsync(process.argv);
} catch (err) {
  reportError(err);
}
