/**
 * Fuzzing session files: any text or parsed JSON is a session or a SessionFileError naming the
 * file (and the field, line or overriding flag); a decoded session is planned by `planSession`
 * or refused the same way. Never a bare TypeError, never a hang. See docs/fuzzing.md.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { planSession } from '../src/api/session-plan.js';
import { decodeSessionFile, loadSessionFile, SessionFileError, type SessionFile } from '../src/protocol/session-file.js';
import { hostileJson, nested, outcome, outcomeAsync, params } from './support/fuzz.js';

const FILE = 'fuzz/session.json';
const named = /^fuzz\/session\.json: /m;

/** A value for a field: usually one of the right type, sometimes anything. */
const either = <T>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary: good }, { weight: 1, arbitrary: hostileJson });

const timelineEntry = fc.record(
  {
    atBlock: either(fc.integer({ min: -2, max: 40 })),
    atSecond: either(fc.double({ min: -1, max: 10, noNaN: true })),
    prompt: either(fc.constantFrom('blue square moving up', ' ', 'x')),
    stop: either(fc.constant(true)),
    extra: hostileJson,
  },
  { requiredKeys: [] },
);

/** Objects shaped like a session file, each field right, wrong or missing. */
const sessionLike = fc.record(
  {
    model: either(fc.constantFrom('../models/random', '', 'models/sprites')),
    seed: either(fc.oneof(fc.nat(), fc.constantFrom(2 ** 53, -1, 0.5))),
    blocks: either(fc.integer({ min: -1, max: 40 })),
    prompt: either(fc.constantFrom('red ball moving left', '', '  ')),
    lanes: either(fc.integer({ min: 0, max: 8 })),
    parallelism: either(fc.integer({ min: -1, max: 6 })),
    attention: either(fc.constantFrom('causal', 'bidirectional', 'none')),
    exec: either(fc.constantFrom('joint', 'lanes', 'layered', 'virtual', 'constructor')),
    recache: either(fc.constantFrom('on', 'off', 'maybe')),
    switchMode: either(fc.constantFrom('at-block', 'in-flight', 'never')),
    steps: either(fc.integer({ min: -1, max: 12 })),
    featureCache: either(
      fc.record(
        { policy: either(fc.constantFrom('none', 'bwcache', 'teacache', 'fbcache', 'toString')), threshold: either(fc.double()), interval: either(fc.integer({ min: -1, max: 5 })), lastStep: either(fc.double()), coefficients: either(fc.array(fc.double(), { maxLength: 6 })) },
        { requiredKeys: [] },
      ),
    ),
    fps: either(fc.double({ min: -1, max: 200, noNaN: true })),
    timeline: either(fc.array(either(timelineEntry), { maxLength: 10 })),
    __proto__: hostileJson,
    constructor: hostileJson,
    unknown: hostileJson,
  },
  { requiredKeys: [] },
);

const decodeOrRefuse = (json: unknown) => outcome(() => decodeSessionFile(json, FILE), [SessionFileError], named);

describe('fuzz: session files', () => {
  it('decodes any JSON value or refuses it naming the file and field', () => {
    fc.assert(
      fc.property(fc.oneof(hostileJson, sessionLike), (json) => {
        const result = decodeOrRefuse(json);
        if (!result.ok) {
          const error = result.error as SessionFileError;
          expect(error.code).toBe('E_SESSION_INVALID');
          // The project's own sentences, never Effect's dump of the schema's type.
          for (const issue of error.issues) expect(issue.message).not.toMatch(/Expected \{|actual /);
          for (const issue of error.issues) expect(issue.message).toMatch(issue.field === undefined ? named : new RegExp(`^fuzz/session\\.json: field "${issue.field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}": `));
        }
      }),
      params(2000),
    );
  });

  it('refuses values nested far deeper than any file in every field, naming the field (regression: featureCache and timeline entries overflowed the stack)', () => {
    const deep = nested(100_000);
    for (const key of ['seed', 'blocks', 'prompt', 'model', 'featureCache', 'timeline', 'steps', 'unknown']) {
      const result = decodeOrRefuse({ seed: 1, blocks: 2, prompt: 'x', [key]: deep });
      expect(result.ok).toBe(false);
      expect(result.ok ? '' : result.error.message).toContain(`field "${key}`);
    }
    expect(decodeOrRefuse({ seed: 1, blocks: 2, prompt: 'x', timeline: [{ atBlock: 1, prompt: deep }] }).ok).toBe(false);
  });

  describe('as text', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fuzz-session-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('loads any text or refuses it with the file, and a line and column for bad JSON', async () => {
      const text = fc.oneof(
        fc.string({ unit: 'binary', maxLength: 80 }),
        sessionLike.map((s) => JSON.stringify(s) ?? ''),
        // Cut-off files: a prefix of a valid one.
        fc.tuple(sessionLike, fc.nat()).map(([s, n]) => {
          const t = JSON.stringify(s) ?? '';
          return t.slice(0, n % (t.length + 1));
        }),
      );
      let i = 0;
      await fc.assert(
        fc.asyncProperty(text, async (content) => {
          const path = join(dir, `s${i++ % 8}.json`);
          writeFileSync(path, content);
          const result = await outcomeAsync(() => loadSessionFile(path), [SessionFileError], new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
          if (!result.ok && (result.error as SessionFileError).code === 'E_SESSION_JSON') expect(result.error.message).toMatch(/invalid JSON at line \d+, column \d+ \(position \d+\)/);
        }),
        params(600),
      );
    });
  });
});

describe('fuzz: planSession', () => {
  const overrides = fc.record(
    {
      lanes: fc.integer({ min: 1, max: 4 }),
      seed: fc.nat(),
      blocks: fc.integer({ min: 1, max: 40 }),
      fps: fc.double({ min: 0.5, max: 100, noNaN: true }),
      parallelism: either(fc.integer({ min: -1, max: 5 })),
      exec: either(fc.constantFrom('joint', 'lanes', 'layered', 'nope')),
      steps: either(fc.integer({ min: 0, max: 12 })),
    },
    { requiredKeys: [] },
  );

  it('plans every decoded session or refuses it naming the file and field or the flag', async () => {
    // What the schema lets through: typed fields, any values of those types.
    const num = fc.oneof(fc.integer({ min: -2, max: 40 }), fc.double(), fc.constantFrom(0.5, 1e308, 2 ** 53));
    const str = fc.oneof(fc.constantFrom('causal', 'bidirectional', 'joint', 'lanes', 'layered', 'on', 'off', 'at-block', 'in-flight', 'none', 'bwcache', 'teacache', 'fbcache', 'constructor', '__proto__'), fc.string({ maxLength: 8 }));
    const decoded: fc.Arbitrary<SessionFile> = fc.record(
      {
        seed: fc.nat(),
        blocks: fc.integer({ min: 1, max: 40 }),
        prompt: fc.constant('red ball moving left'),
        lanes: fc.integer({ min: 1, max: 4 }),
        parallelism: num,
        attention: str,
        exec: str,
        recache: str,
        switchMode: str,
        steps: num,
        featureCache: fc.record({ policy: str, threshold: num, interval: num, lastStep: num, coefficients: fc.array(num, { maxLength: 6 }) }, { requiredKeys: [] }),
        fps: fc.double({ min: 0.01, max: 100, noNaN: true }),
        timeline: fc.array(
          fc.oneof(
            fc.record({ atBlock: fc.integer({ min: 1, max: 40 }), prompt: fc.constant('blue') }),
            fc.record({ atSecond: fc.double({ min: 1e-6, max: 30, noNaN: true }), prompt: fc.constant('blue') }),
            fc.record({ atSecond: fc.double({ min: 1e-6, max: 30, noNaN: true }), stop: fc.constant(true as const) }),
          ),
          { maxLength: 10 },
        ),
      },
      { requiredKeys: ['seed', 'blocks', 'prompt'] },
    );
    await fc.assert(
      fc.asyncProperty(decoded, overrides, async (session, given) => {
        const withFlags = { ...given, describe: (field: string) => `option --${field}` };
        const result = await outcomeAsync(() => planSession(session, FILE, withFlags), [SessionFileError], /^(fuzz\/session\.json: |option --)/m);
        if (result.ok) {
          const { request } = result.value;
          expect(Number.isSafeInteger(request.blocks) && request.blocks >= 1).toBe(true);
          for (const s of request.switches ?? []) expect(s.atBlock >= 1 && s.atBlock < request.blocks + 1).toBe(true);
        }
      }),
      params(400),
    );
  });
});
