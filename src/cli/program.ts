/** The `block-cascade` command-line program: its commands, options and help. */
import { Command } from 'commander';
import { packageVersion } from '../engine/model/paths.js';
import { registerBenchCommand } from './bench-command.js';
import { registerCalibrateCacheCommand } from './calibrate-cache-command.js';
import { registerEvalCommand } from './eval-command.js';
import { registerInspectCommand } from './inspect-command.js';
import { registerModelCommand } from './model-command.js';
import { registerRunCommand } from './run-command.js';
import { registerSimulateCommand } from './simulate-command.js';
import { registerWorkerCommand } from './worker-command.js';

/**
 * Builds the program (not yet parsed).
 *
 * @example
 * ```ts
 * await createProgram().parseAsync(process.argv);
 * ```
 */
export function createProgram(): Command {
  const program = new Command('block-cascade')
    .description('Generate video block by block with block-causal diffusion models')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)');
  registerRunCommand(program);
  registerBenchCommand(program);
  registerSimulateCommand(program);
  registerEvalCommand(program);
  registerInspectCommand(program);
  registerModelCommand(program);
  registerCalibrateCacheCommand(program);
  registerWorkerCommand(program);
  return program;
}
