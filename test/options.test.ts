/**
 * One resolver for every source of options: API calls, session files and CLI flags end in
 * `resolveSettings`, whose messages name the field (or the flag) and what was expected.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planSession } from '../src/api/session-plan.js';
import { InvalidOptionError } from '../src/core/errors.js';
import { MAX_LANES_ENV, MAX_PROMPT_CHARS, maxLanes, mergeSettings, resolveGeneration, resolveLanes, resolveRequest, resolveSettings, type ResolveContext } from '../src/core/options.js';
import { createRuntime } from '../src/api/runtime.js';
import { EXECUTORS } from '../src/engine/executors/registry.js';
import { decodeSessionFile, SessionFileError } from '../src/protocol/session-file.js';
import { flagName } from '../src/cli/generation-flags.js';

const context: ResolveContext = { lanes: 2, executors: EXECUTORS, defaultSteps: 4, defaultRecache: 'off' };

describe('resolveSettings', () => {
  it('fills defaults from the model and the P level', () => {
    expect(resolveSettings({}, context)).toEqual({ parallelism: 0, attention: 'bidirectional', exec: 'joint', recache: 'off', switchMode: 'at-block', cascadeWindow: 'extended', steps: 4, featureCache: { policy: 'none' } });
    expect(resolveSettings({ parallelism: 4, exec: 'lanes', steps: 32 }, context)).toEqual({ parallelism: 4, attention: 'bidirectional', exec: 'lanes', recache: 'off', switchMode: 'at-block', cascadeWindow: 'extended', steps: 32, featureCache: { policy: 'none' } });
    expect(resolveSettings({}, { ...context, defaultRecache: undefined }).recache).toBe('on');
    expect(resolveSettings({ parallelism: 4, cascadeWindow: 'trained' }, context).cascadeWindow).toBe('trained');
    expect(() => resolveSettings({ cascadeWindow: 'narrow' } as never, context)).toThrow(/option "cascadeWindow": expected "extended" or "trained", got "narrow"/);
  });

  it('shows what it got even where JSON cannot (NaN, a BigInt, a circular object): the refusal is always an InvalidOptionError', () => {
    const refusal = (seed: unknown) => {
      try {
        resolveRequest({ seed, blocks: 4, prompt: 'red ball' } as never);
      } catch (err) {
        return err;
      }
      return null;
    };
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const [seed, shown] of [[NaN, 'NaN'], [Infinity, 'Infinity'], [1n, '1n'], [undefined, 'undefined'], [circular, 'an object that JSON cannot show'], [{ n: 1 }, '{"n":1}']] as const) {
      const err = refusal(seed);
      expect(err).toBeInstanceOf(InvalidOptionError);
      expect((err as Error).message).toBe(`option "seed": expected a non-negative safe integer, got ${shown}`);
    }
  });

  it('refuses a prompt longer than the limit, naming the field (request and switches)', () => {
    const long = 'x'.repeat(MAX_PROMPT_CHARS + 1);
    expect(() => resolveRequest({ seed: 1, blocks: 4, prompt: long })).toThrow(`option "prompt": expected a prompt of at most ${MAX_PROMPT_CHARS} characters, got "${MAX_PROMPT_CHARS + 1} characters"`);
    expect(() => resolveRequest({ seed: 1, blocks: 4, prompt: 'red ball', switches: [{ atBlock: 2, prompt: long }] })).toThrow(/option "switches\[0\]\.prompt": expected a prompt of at most/);
    expect(resolveRequest({ seed: 1, blocks: 4, prompt: 'x'.repeat(MAX_PROMPT_CHARS) }).prompt).toHaveLength(MAX_PROMPT_CHARS);
  });

  it('names the field and what was expected', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ parallelism: 5 }, /option "parallelism": expected an integer from 0 to 4, got 5/],
      [{ attention: 'sideways' }, /option "attention": expected "causal" or "bidirectional", got "sideways"/],
      [{ exec: 'gpu' }, new RegExp(`option "exec": expected one of ${EXECUTORS.map((e) => `"${e.name}"`).join(", ")}, got "gpu"`)],
      [{ recache: 'sometimes' }, /option "recache": expected "on" or "off"/],
      [{ switchMode: 'later' }, /option "switchMode": expected "at-block" or "in-flight", got "later"/],
      [{ parallelism: 2, recache: 'on' }, /option "recache": expected "off" at P2/],
      [{ steps: 0 }, /option "steps": expected an integer from 1 to 1000, got 0/],
      [{ steps: 2.5 }, /option "steps"/],
    ];
    for (const [input, message] of cases) expect(() => resolveSettings(input, context)).toThrow(message);
  });

  it('asks each registered execution mode for the lanes it needs', () => {
    expect(() => resolveSettings({ exec: 'lanes' }, { ...context, lanes: 1 })).toThrow(/option "exec": expected a mode that runs on 1 lane \("lanes" needs 2/);
    const extra = { name: 'virtual', description: 'test mode', needs: { minLanes: 3, layered: false, reusesFeatures: true }, exact: true };
    expect(resolveSettings({ exec: 'virtual' }, { ...context, lanes: 3, executors: [...EXECUTORS, extra] }).exec).toBe('virtual');
  });

  it('merges sources field by field, later ones winning, undefined keeping what came before', () => {
    expect(mergeSettings({ parallelism: 4, attention: 'causal' }, { parallelism: undefined, exec: 'lanes' }, { attention: 'bidirectional' })).toEqual({ parallelism: 4, attention: 'bidirectional', exec: 'lanes' });
  });

  it('resolves a whole generation: request, settings and the schedule they give', () => {
    const g = resolveGeneration({ seed: 1, blocks: 8, prompt: 'red', switches: [{ atBlock: 3, prompt: 'blue' }] }, [{ parallelism: 4 }, { steps: 32 }], context);
    expect(g.schedule).toEqual({ steps: 32, parallelism: 4, lag: 7 });
    expect(() => resolveGeneration({ seed: 1, blocks: 8, prompt: 'red', switches: [{ atBlock: 9, prompt: 'x' }] }, [], context)).toThrow(/option "switches\[0\]\.atBlock": expected an integer in \(0, 8\)/);
    expect(() => resolveLanes(0)).toThrow(InvalidOptionError);
    expect(() => resolveLanes([{ device: 'tpu' as never, threads: 1 }])).toThrow(/option "lanes\[0\]\.device"/);
  });

  it('refuses a session file fps the GIF cannot hold, naming the file and field', () => {
    expect(() => decodeSessionFile({ seed: 1, blocks: 1, prompt: 'x', fps: 1000 }, 's.json')).toThrow(/^s\.json: field "fps": expected a number of frames per second in \(0, 100\], got 1000/);
    expect(decodeSessionFile({ seed: 1, blocks: 1, prompt: 'x', fps: 100 }, 's.json').fps).toBe(100);
  });

  it('bounds real lanes: 4 per core, or BLOCK_CASCADE_MAX_LANES; a runtime refuses more before starting one', async () => {
    expect(maxLanes(16)).toBe(4 * 16);
    expect(maxLanes(16, '100')).toBe(100);
    expect(maxLanes(16, 'many')).toBe(64);
    expect(resolveLanes(4, 4)).toHaveLength(4);
    expect(() => resolveLanes(5, 4)).toThrow(/option "lanes": expected at most 4 \(4 per core; BLOCK_CASCADE_MAX_LANES raises it\), got 5/);
    expect(() => resolveLanes(Array.from({ length: 5 }, () => ({ device: 'cpu', threads: 1 }) as const), 4)).toThrow(/option "lanes": expected at most 4 lanes/);
    const before = process.env[MAX_LANES_ENV];
    process.env[MAX_LANES_ENV] = '1';
    try {
      await expect(createRuntime({ lanes: 2 })).rejects.toThrow(/option "lanes": expected at most 1/);
    } finally {
      if (before === undefined) delete process.env[MAX_LANES_ENV];
      else process.env[MAX_LANES_ENV] = before;
    }
  });
});

describe('session files go through the same resolver', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bc-options-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function plan(json: Record<string, unknown>, overrides = {}) {
    const file = join(dir, 'session.json');
    await writeFile(file, JSON.stringify(json));
    return planSession(decodeSessionFile(json, file), file, { describe: flagName, ...overrides });
  }

  it('names the file and the timeline for too many prompt switches', async () => {
    const timeline = Array.from({ length: 8 }, (_, i) => ({ atBlock: i + 1, prompt: 'blue ball moving up' }));
    const err = await plan({ seed: 1, blocks: 12, prompt: 'red ball moving left', timeline }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SessionFileError);
    expect((err as SessionFileError).field).toBe('timeline');
    expect((err as Error).message).toMatch(/session\.json: field "timeline": expected at most 7 prompt switches, got 8$/);
  });

  it('names the file and field for a bad setting in the file, and the flag for a bad override', async () => {
    const base = { seed: 1, blocks: 4, prompt: 'red ball moving left' };
    const fromFile = await plan({ ...base, parallelism: 7 }).catch((e: unknown) => e);
    expect(fromFile).toBeInstanceOf(SessionFileError);
    expect((fromFile as SessionFileError).field).toBe('parallelism');
    expect((fromFile as Error).message).toMatch(/session\.json: field "parallelism": expected an integer from 0 to 4, got 7$/);
    await expect(plan({ ...base, exec: 'lanes' })).rejects.toThrow(/field "exec": expected a mode that runs on 1 lane/);
    await expect(plan(base, { steps: 0 })).rejects.toThrow(/^option --steps: expected an integer from 1 to 1000, got 0$/);
    const ok = await plan({ ...base, steps: 8, parallelism: 4 });
    expect(ok.settings).toMatchObject({ steps: 8, parallelism: 4, recache: 'off' });
    expect(ok.runtime).toMatchObject({ steps: 8, cascade: { parallelism: 4 } });
  });
});
