/**
 * Before/after of the runtime's own cost (P0 on one lane unless told), measured side by side: alternates generations
 * between two checkouts (each imported from its own `src/`), one fresh process per measurement,
 * and prints the medians of the overhead per forward (actor-thread task time − `session.run`,
 * ÷ `session.run`, the bench's `overheadPercent`) and the efficiency (Σ `session.run` ÷ wall).
 *
 *   npx tsx tools/overhead-ab.ts --before ../before --after . --model DIR [--repeats 3] [--json FILE]
 *     [--parallelism 4 --exec lanes --lanes 2 --attention causal]   (another configuration than P0 joint on one lane)
 *
 * (`git worktree add ../before <commit>` makes the other checkout; link its node_modules.)
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from '../src/core/median.js';

interface Measure {
  readonly forwards: number;
  readonly wallMs: number;
  readonly runMs: number;
  readonly taskMs: number;
}

const { values } = parseArgs({
  options: {
    before: { type: 'string' },
    after: { type: 'string', default: '.' },
    model: { type: 'string', default: 'models/sprites' },
    repeats: { type: 'string', default: '3' },
    blocks: { type: 'string', default: '8' },
    json: { type: 'string' },
    child: { type: 'string' },
    parallelism: { type: 'string', default: '0' },
    exec: { type: 'string', default: 'joint' },
    lanes: { type: 'string', default: '1' },
    attention: { type: 'string', default: 'bidirectional' },
  },
});

/** One measurement in this process: a warm-up generation, then three measured ones. */
async function measure(tree: string): Promise<Measure> {
  const { createRuntime } = (await import(resolve(tree, 'src/index.ts'))) as typeof import('../src/index.js');
  const runtime = await createRuntime({ model: resolve(values.model as string), lanes: Number(values.lanes) });
  const cascade = { parallelism: Number(values.parallelism) as 0, exec: values.exec as string, attention: values.attention as 'causal' | 'bidirectional' };
  const generate = async () => {
    for await (const _ of runtime.generate({ seed: 1, blocks: Number(values.blocks), prompt: 'red ball moving left' }, { cascade })) void _;
  };
  await generate();
  const before = runtime.stats();
  const start = performance.now();
  for (let i = 0; i < 3; i++) await generate();
  const wallMs = performance.now() - start;
  const after = runtime.stats();
  await runtime.close();
  return { forwards: after.forwards - before.forwards, wallMs, runMs: after.forwardRunMs - before.forwardRunMs, taskMs: after.forwardTaskMs - before.forwardTaskMs };
}

if (values.child !== undefined) {
  process.stdout.write(JSON.stringify(await measure(values.child)));
} else {
  if (values.before === undefined) throw new Error('--before <checkout> is required');
  const trees = { before: values.before, after: values.after as string };
  const results: Record<'before' | 'after', Measure[]> = { before: [], after: [] };
  for (let r = 0; r < Number(values.repeats); r++) {
    for (const side of ['before', 'after'] as const) {
      const args = ['--model', values.model as string, '--blocks', values.blocks as string, '--parallelism', values.parallelism as string, '--exec', values.exec as string, '--lanes', values.lanes as string, '--attention', values.attention as string];
      const out = execFileSync(process.execPath, ['--import', 'tsx', import.meta.filename, '--child', trees[side], ...args], { encoding: 'utf8' });
      results[side].push(JSON.parse(out) as Measure);
    }
  }
  const summary = Object.fromEntries(
    (['before', 'after'] as const).map((side) => {
      const ms = results[side];
      return [side, {
        // The commit, not the folder: a path names one machine.
        commit: execFileSync('git', ['-C', trees[side], 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(),
        overheadPercent: median(ms.map((m) => (100 * (m.taskMs - m.runMs)) / m.runMs)),
        efficiency: median(ms.map((m) => m.runMs / m.wallMs)),
        msPerForward: median(ms.map((m) => m.wallMs / m.forwards)),
        runMsPerForward: median(ms.map((m) => m.runMs / m.forwards)),
        measures: ms,
      }];
    }),
  );
  for (const [side, s] of Object.entries(summary)) {
    console.log(`${side.padEnd(6)} overhead ${s.overheadPercent.toFixed(2)}% of session.run, efficiency ${(100 * s.efficiency).toFixed(1)}%, ${s.msPerForward.toFixed(2)} ms per forward (${s.runMsPerForward.toFixed(2)} in session.run)`);
  }
  if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify({ model: basename(values.model as string), blocks: Number(values.blocks), repeats: Number(values.repeats), ...summary }, null, 2)}\n`);
}
