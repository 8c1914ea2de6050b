/** The `block-cascade` command-line program: its commands, options and help. */
import { Command } from 'commander';
import { packageVersion } from '../engine/model/paths.js';

/** Adds a command (its options, help and action) to the program. */
type Register = (program: Command) => void;

/**
 * Every command, in the order `--help` lists them, each loaded only when registered: a command
 * module imports all it runs, and a process runs one command (a restarted `worker` started
 * about 0.1 s later with every command's modules loaded).
 */
const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = {
  run: async () => (await import('./run-command.js')).registerRunCommand,
  bench: async () => (await import('./bench-command.js')).registerBenchCommand,
  simulate: async () => (await import('./simulate-command.js')).registerSimulateCommand,
  eval: async () => (await import('./eval-command.js')).registerEvalCommand,
  inspect: async () => (await import('./inspect-command.js')).registerInspectCommand,
  model: async () => (await import('./model-command.js')).registerModelCommand,
  'calibrate-cache': async () => (await import('./calibrate-cache-command.js')).registerCalibrateCacheCommand,
  worker: async () => (await import('./worker-command.js')).registerWorkerCommand,
};

/**
 * Builds the program (not yet parsed) for these arguments: when they name a command, with that
 * command alone; otherwise (`--help`, `--version`, `help`, a mistyped name, which commander
 * answers with the names it knows) with all of them.
 *
 * @example
 * ```ts
 * await (await createProgram(process.argv)).parseAsync(process.argv);
 * ```
 */
export async function createProgram(argv: readonly string[] = process.argv): Promise<Command> {
  const program = new Command('block-cascade')
    .description('Generate video block by block with block-causal diffusion models')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)');
  const named = argv[2];
  const names = named !== undefined && Object.hasOwn(COMMANDS, named) ? [named] : Object.keys(COMMANDS);
  const registers = await Promise.all(names.map((name) => (COMMANDS[name] as () => Promise<Register>)()));
  for (const register of registers) register(program);
  return program;
}
