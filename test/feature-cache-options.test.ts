/**
 * Feature-cache options go through the one resolver: API, session files and CLI flags; bad
 * values fail naming the field (or the file and field, or the flag).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planSession } from '../src/api/session-plan.js';
import { mergeSettings, resolveFeatureCache, resolveSettings, type ResolveContext } from '../src/core/options.js';
import { EXECUTORS } from '../src/engine/executors/registry.js';
import { decodeSessionFile, SessionFileError } from '../src/protocol/session-file.js';
import { flagName } from '../src/cli/generation-flags.js';
import { runCli } from './support/cli.js';

const context: ResolveContext = { lanes: 2, executors: EXECUTORS, defaultSteps: 4, defaultRecache: 'off' };

describe('featureCache in the resolver', () => {
  it('is none by default; bwcache fills δ, R and the tail, and runs in "layered" mode unless a reusing mode is asked for', () => {
    expect(resolveSettings({}, context).featureCache).toEqual({ policy: 'none' });
    const on = resolveSettings({ featureCache: { policy: 'bwcache' }, steps: 32 }, context);
    expect(on.featureCache).toEqual({ policy: 'bwcache', threshold: 0.15, interval: 3, lastStep: 0.5 });
    expect(on.exec).toBe('layered');
    expect(resolveSettings({ featureCache: { policy: 'bwcache', threshold: 0.25, interval: 2, lastStep: 4 }, exec: 'lanes', parallelism: 4 }, context)).toMatchObject({
      exec: 'lanes',
      featureCache: { policy: 'bwcache', threshold: 0.25, interval: 2, lastStep: 4 },
    });
    expect(resolveSettings({ featureCache: { policy: 'none' }, exec: 'joint' }, context).exec).toBe('joint');
  });

  it('names the field for bad values', () => {
    const cases: [unknown, RegExp][] = [
      [{ policy: 'bwcache', threshold: -0.1 }, /option "featureCache\.threshold": expected a non-negative number \(δ\), got -0\.1/],
      [{ policy: 'bwcache', interval: 0 }, /option "featureCache\.interval": expected a positive integer/],
      [{ policy: 'bwcache', interval: 1.5 }, /option "featureCache\.interval"/],
      [{ policy: 'magcache' }, /option "featureCache\.policy": expected "none" or "bwcache" or "teacache" or "fbcache", got "magcache"/],
      [{ policy: 'bwcache', lastStep: 1.5 }, /option "featureCache\.lastStep"/],
      [{ policy: 'bwcache', lastStep: -1 }, /option "featureCache\.lastStep"/],
      [{ policy: 'bwcache', thresh: 0.1 }, /option "featureCache\.thresh": expected no such field/],
      ['bwcache', /option "featureCache": expected \{ policy/],
    ];
    for (const [featureCache, message] of cases) expect(() => resolveSettings({ featureCache }, context)).toThrow(message);
    expect(() => resolveFeatureCache({ policy: 'bwcache', threshold: Number.NaN })).toThrow(/featureCache\.threshold/);
  });

  it('refuses a mode that cannot reuse features, and a model without the layered graphs', () => {
    expect(() => resolveSettings({ featureCache: { policy: 'bwcache' }, exec: 'joint' }, context)).toThrow(
      /option "exec": expected a mode that reuses features \("layered" or "lanes"\) with featureCache\.policy "bwcache", got "joint"/,
    );
    expect(() => resolveSettings({ featureCache: { policy: 'bwcache' } }, { ...context, layered: false })).toThrow(/option "featureCache\.policy": expected "none" for this model/);
  });

  it('merges field by field across sources', () => {
    expect(mergeSettings({ featureCache: { policy: 'bwcache', interval: 4 } }, { featureCache: { threshold: 0.1 } })).toEqual({ featureCache: { policy: 'bwcache', interval: 4, threshold: 0.1 } });
  });
});

describe('featureCache in session files and flags', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bc-feature-cache-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const base = { seed: 1, blocks: 4, prompt: 'red ball moving left' };

  async function plan(json: Record<string, unknown>, overrides = {}) {
    const file = join(dir, 'session.json');
    await writeFile(file, JSON.stringify(json));
    return planSession(decodeSessionFile(json, file), file, { describe: flagName, ...overrides });
  }

  it('reads featureCache from the file, lets flags override a field, and names the file and field or the flag', async () => {
    const ok = await plan({ ...base, steps: 16, featureCache: { policy: 'bwcache', interval: 2 } }, { featureCache: { threshold: 0.2 } });
    expect(ok.settings.featureCache).toEqual({ policy: 'bwcache', threshold: 0.2, interval: 2, lastStep: 0.5 });
    expect(ok.settings.exec).toBe('layered');
    expect(ok.runtime.featureCache).toEqual({ policy: 'bwcache', interval: 2, threshold: 0.2 });
    const fromFile = await plan({ ...base, featureCache: { policy: 'bwcache', interval: 0 } }).catch((e: unknown) => e);
    expect(fromFile).toBeInstanceOf(SessionFileError);
    expect((fromFile as SessionFileError).field).toBe('featureCache.interval');
    expect((fromFile as Error).message).toMatch(/session\.json: field "featureCache\.interval": expected a positive integer/);
    await expect(plan(base, { featureCache: { policy: 'bwcache', threshold: -1 } })).rejects.toThrow(/^option --feature-cache-threshold: expected a non-negative number/);
    await expect(plan(base, { featureCache: { policy: 'bogus' } })).rejects.toThrow(/^option --feature-cache: expected "none" or "bwcache"/);
    expect(() => decodeSessionFile({ ...base, featureCache: { policy: 3 } }, 'x.json')).toThrow(/x\.json: field "featureCache\.policy": expected "none", "bwcache", "teacache" or "fbcache", got 3/);
    expect(() => decodeSessionFile({ ...base, featureCache: { delta: 3 } }, 'x.json')).toThrow(/field "featureCache\.delta": is not a featureCache field/);
  });

  it('the CLI folds --feature-cache* into one setting, reports a bad one by its flag, and says what a run reused', async () => {
    const file = join(dir, 'cli.json');
    await writeFile(file, JSON.stringify(base));
    const bad = await runCli(['run', file, '--out', join(dir, 'x.gif'), '--feature-cache', 'bwcache', '--feature-cache-interval', '0', '--no-stdin']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/option --feature-cache-interval: expected a positive integer/);
    // A run with caching says what it skipped; one without says nothing of it.
    const cached = await runCli(['run', file, '--out', join(dir, 'cached.gif'), '--blocks', '2', '--steps', '32', '--feature-cache', 'bwcache', '--no-stdin']);
    expect(cached.code).toBe(0);
    const line = /feature cache bwcache δ = 0\.15: (\d+) of 66 forwards reused the block's cached features \((\d+) %\)/.exec(cached.stderr);
    expect(line).not.toBeNull();
    const reused = Number(line?.[1]);
    expect(reused).toBeGreaterThan(0);
    expect(Number(line?.[2])).toBe(Math.round((100 * reused) / 66));
    const plain = await runCli(['run', file, '--out', join(dir, 'plain.gif'), '--blocks', '2', '--no-stdin']);
    expect(plain.code).toBe(0);
    expect(plain.stderr).not.toContain('feature cache');
    const help = await runCli(['run', '--help']);
    expect(help.stdout).toContain('--feature-cache <policy>');
    expect(help.stdout).toContain('--feature-cache-threshold');
  });
});
