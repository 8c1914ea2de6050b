/**
 * The inspector's pure parts: reading a trace file (errors name the file and line), the views
 * derived from records (lane tasks and forwards, block transitions, the cascade diagonal, KV
 * occupancy, switches, re-caches) and the Chrome trace export. Counts are checked against the
 * fixtures' raw lines, read here independently of the code under test.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { blockTimelines, stateAt, type BlockTimeline } from '../src/inspector/block-timeline.js';
import { chromeTrace, CHROME_PIDS, laneTaskName } from '../src/inspector/chrome-trace.js';
import { TraceFileError } from '../src/inspector/errors.js';
import { FORWARD_TASKS, pairLaneTasks } from '../src/inspector/lane-tasks.js';
import { blocksByState, deriveModel } from '../src/inspector/model.js';
import { generations, parseTrace, readTraceFile } from '../src/inspector/trace-file.js';
import { STAGES } from '../src/core/domain.js';
import type { TraceRecord } from '../src/core/trace-records.js';

const P4 = 'test/fixtures/p4-lanes.jsonl';
const P0 = 'test/fixtures/p0-recache.jsonl';

/** The fixture's lines as plain objects, without the reader under test. */
type Raw = Record<string, unknown> & { kind: string; t: number };
const raw = (file: string): Raw[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Raw);

const META = '{"kind":"meta","t":0,"version":1,"startedAt":0,"model":"m","lanes":1,"parallelism":0,"attention":"causal","exec":"joint","recache":"on","seed":1,"blocks":2,"framesPerBlock":3,"kvCapacity":8,"blockStates":["queued","t3","t2","t1","t0","cache","done"]}';

describe('trace files', () => {
  it('reads a recorded trace, every line a record', async () => {
    const records = await readTraceFile(P4);
    expect(records).toHaveLength(raw(P4).length);
    expect(records[0]).toMatchObject({ kind: 'meta', parallelism: 4, lanes: 2, blocks: 12 });
  });

  it.each([
    ['not JSON', `${META}\n{"kind":"state",`, 2, /not valid JSON/],
    ['no kind', `${META}\n{"t":1}`, 2, /"kind"/],
    ['no t', `${META}\n{"kind":"state","actor":"block.0","state":"t3"}`, 2, /time "t"/],
    ['a field of the wrong type', `${META}\n{"kind":"lane","t":1,"lane":"0","phase":"start","task":"tick","blocks":[0],"stages":[0]}`, 2, /field "lane" should be a non-negative integer, got "0"/],
    ['an unknown lane task', `${META}\n{"kind":"lane","t":1,"lane":0,"phase":"start","task":"dance","blocks":[],"stages":[]}`, 2, /field "task" should be one of/],
    ['no meta first', '{"kind":"state","t":1,"actor":"supervisor","state":"running"}', 1, /first record must be "meta"/],
    ['another version', META.replace('"version":1', '"version":99'), 1, /trace version 99, but this inspector reads version 1/],
    ['an array', `${META}\n\n[1,2]`, 3, /expected a JSON object/],
  ])('refuses %s, naming the file and line', (_what, text, line, message) => {
    let error: unknown;
    try {
      parseTrace(text, 'run.jsonl');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TraceFileError);
    const e = error as TraceFileError;
    expect(e.line).toBe(line);
    expect(e.message.startsWith(`run.jsonl:${line}: `)).toBe(true);
    expect(e.message).toMatch(message);
  });

  it('keeps the records before a last line cut off by a crash, with a warning; refuses a bad line that is not last', () => {
    const warnings: string[] = [];
    const cut = `${META}\n{"kind":"state",`;
    expect(parseTrace(cut, 'run.jsonl', (w) => warnings.push(w))).toHaveLength(1);
    expect(warnings).toEqual(['run.jsonl:2: the last line was cut off (16 characters, no newline, not JSON): ignored']);
    // A whole line (newline-terminated) that is not JSON is a fault, not a cut.
    expect(() => parseTrace(`${cut}\n`, 'run.jsonl', () => undefined)).toThrow(/^run\.jsonl:2: not valid JSON/);
    expect(() => parseTrace(`${cut}\n${META}`, 'run.jsonl', () => undefined)).toThrow(/^run\.jsonl:2: not valid JSON/);
  });

  it('refuses an empty or missing file as a whole (line 0)', async () => {
    expect(() => parseTrace('\n\n', 'empty.jsonl')).toThrow(/^empty\.jsonl: no records/);
    await expect(readTraceFile('test/fixtures/nope.jsonl')).rejects.toThrow(/^test\/fixtures\/nope\.jsonl: cannot read the trace \(ENOENT\)/);
  });

  it('drops kinds it does not know and splits generations at each meta', () => {
    const records = parseTrace(`${META}\n{"kind":"future","t":1}\n${META}\n{"kind":"end","t":2,"blocks":0,"outcome":"finished"}\n`, 'two.jsonl');
    expect(records.map((r) => r.kind)).toEqual(['meta', 'meta', 'end']);
    expect(generations(records).map((g) => g.length)).toEqual([1, 2]);
  });
});

describe('the inspector model', () => {
  const records = parseTrace(readFileSync(P4, 'utf8'), P4);
  const model = deriveModel(records);
  const lines = raw(P4);
  const laneLines = lines.filter((r) => r.kind === 'lane');

  it('pairs every lane start with its end; forwards are the tick, share and re-cache tasks', () => {
    const ends = laneLines.filter((r) => r['phase'] === 'end');
    expect(model.tasks).toHaveLength(ends.length);
    expect(model.unmatchedEnds).toBe(0);
    expect(model.tasks.every((t) => t.end !== null && t.end >= t.start)).toBe(true);
    const forwards = ends.filter((r) => (FORWARD_TASKS as readonly string[]).includes(String(r['task']))).length;
    expect(model.forwards).toBe(forwards);
    // P4 with 2 lanes in lanes execution: 16 ticks, one share per lane each.
    expect(forwards).toBe(32);
    expect(model.tasks.filter((t) => t.task === 'decode' && !t.forward)).toHaveLength(12);
  });

  it('pairs by lane, kind, tick and blocks, even when ends come back in another order', () => {
    const start = (lane: number, tick: number, t: number): TraceRecord => ({ kind: 'lane', t, lane, phase: 'start', task: 'share', blocks: [tick], stages: [0], tick });
    const end = (lane: number, tick: number, t: number): TraceRecord => ({ kind: 'lane', t, lane, phase: 'end', task: 'share', blocks: [tick], stages: [0], tick, runMs: 1 });
    const { tasks, unmatchedEnds } = pairLaneTasks([start(0, 0, 1), start(0, 1, 2), end(0, 1, 3), end(0, 0, 4), end(1, 0, 5), start(1, 2, 6)]);
    expect(tasks.map((t) => [t.lane, t.tick, t.start, t.end])).toEqual([
      [0, 0, 1, 4],
      [0, 1, 2, 3],
      [1, 2, 6, null],
    ]);
    expect(unmatchedEnds).toBe(1);
  });

  it('keeps the per-layer K/V waits of a share, into the Chrome trace too', () => {
    const meta = parseTrace(readFileSync('test/fixtures/p4-lanes.jsonl', 'utf8'), 'p4')[0] as TraceRecord;
    const records: TraceRecord[] = [
      meta,
      { kind: 'lane', t: 1, lane: 0, phase: 'start', task: 'share', blocks: [0], stages: [0], tick: 0 },
      { kind: 'lane', t: 9, lane: 0, phase: 'end', task: 'share', blocks: [0], stages: [0], tick: 0, runMs: 5, exchangeWaitMs: 3, layerWaitsMs: [0.5, 1, 1, 0.5] },
    ];
    expect(pairLaneTasks(records).tasks[0]?.layerWaitsMs).toEqual([0.5, 1, 1, 0.5]);
    const share = chromeTrace(records).traceEvents.find((e) => e.ph === 'X' && e.pid === CHROME_PIDS.lanes);
    expect(share?.args).toMatchObject({ exchangeWaitMs: 3, layerWaitsMs: [0.5, 1, 1, 0.5] });
    expect(() => parseTrace([meta, { ...records[2], layerWaitsMs: ['x'] }].map((r) => JSON.stringify(r)).join('\n'), 'bad')).toThrow(/layerWaitsMs/);
  });

  it("follows each block through the machine with the time spent in each state", () => {
    expect(model.blocks.map((b) => b.block)).toEqual([...Array(12).keys()]);
    for (const b of model.blocks) {
      expect(b.transitions.map((x) => x.state)).toEqual(['queued', ...STAGES, 'done']);
      const own = lines.filter((r) => r.kind === 'state' && r['actor'] === `block.${b.block}`);
      b.transitions.forEach((x, i) => {
        expect(x.t).toBe(own[i]?.t);
        if (i + 1 < own.length) expect(x.ms).toBeCloseTo((own[i + 1] as Raw).t - (own[i] as Raw).t, 3);
      });
      expect(b.transitions.at(-1)?.ms).toBeNull();
    }
  });

  it('knows the state of each block at any time', () => {
    const b3 = blockTimelines(records).find((b) => b.block === 3) as BlockTimeline;
    const at = lines.find((r) => r.kind === 'state' && r['actor'] === 'block.3' && r['state'] === 't2')?.t as number;
    expect(stateAt(b3, at - 0.001)).toBe('t3');
    expect(stateAt(b3, at)).toBe('t2');
    expect(stateAt(b3, 0)).toBeNull();
    const by = blocksByState(model, at);
    expect(by['t2']).toContain(3);
    expect(Object.values(by).flat().filter((b) => b === 3)).toHaveLength(1);
    expect(Object.keys(by)).toEqual(['queued', ...STAGES, 'done', 'failed']);
  });

  it('puts every (block, stage) on the cascade diagonal at tick b·Δ + s', () => {
    expect(model.lag).toBe(1);
    expect(model.diagonal.ticks).toBe(16);
    expect(model.diagonal.cells).toHaveLength(12 * STAGES.length);
    for (const c of model.diagonal.cells) {
      expect(c.tick).toBe(c.block * 1 + c.stage);
      expect(c.onSchedule).toBe(true);
      expect(c.lanes).toEqual([0, 1]);
    }
  });

  it('keeps KV occupancy, switch markers and the end', () => {
    expect(model.kv.points).toHaveLength(lines.filter((r) => r.kind === 'kv').length);
    expect(model.kv.capacity).toBe(24);
    expect(model.kv.points.every((p) => p.free + p.reserved + p.committed === 24)).toBe(true);
    expect(model.switches).toHaveLength(1);
    const [s] = model.switches;
    expect(s).toMatchObject({ fromBlock: 6, live: false, prompt: 'blue ball moving up' });
    // Shown where block 6 starts denoising.
    expect(s?.appliedAt).toBe(model.blocks[6]?.transitions.find((x) => x.state === 't3')?.t);
    expect(model.end).toMatchObject({ outcome: 'finished', blocks: 12 });
    expect(model.duration).toBe(Math.max(...lines.map((r) => r.t)));
    expect(model.frames.map((f) => f.block)).toEqual([...Array(12).keys()]);
  });

  it('counts a re-cache as a forward and keeps it off the diagonal (P0, sequential)', () => {
    const p0 = deriveModel(parseTrace(readFileSync(P0, 'utf8'), P0));
    const p0Lines = raw(P0);
    const recache = p0.tasks.filter((t) => t.task === 'recache');
    expect(recache).toHaveLength(1);
    expect(recache[0]?.forward).toBe(true);
    expect(p0.recaches).toHaveLength(p0Lines.filter((r) => r.kind === 'recache').length);
    const ticks = p0Lines.filter((r) => r.kind === 'lane' && r['phase'] === 'end' && r['task'] === 'tick').length;
    expect(p0.forwards).toBe(ticks + 1);
    expect(p0.lag).toBe(5);
    expect(p0.diagonal.cells).toHaveLength(ticks);
    expect(p0.diagonal.cells.every((c) => c.onSchedule)).toBe(true);
  });

  it('derives an empty model before the first record (a live page that is early)', () => {
    const empty = deriveModel([]);
    expect(empty).toMatchObject({ meta: null, lag: null, forwards: 0, duration: 0, tasks: [], blocks: [] });
    expect(empty.chartStates).toContain('failed');
  });
});

describe('Chrome trace export', () => {
  const records = parseTrace(readFileSync(P4, 'utf8'), P4);
  const trace = chromeTrace(records);
  const lines = raw(P4);
  const events = trace.traceEvents;
  const of = (ph: string, pid?: number) => events.filter((e) => e.ph === ph && (pid === undefined || e.pid === pid));

  it('is a trace-event JSON object with well-formed events', () => {
    expect(trace.displayTimeUnit).toBe('ms');
    expect(JSON.parse(JSON.stringify(trace))).toEqual(trace);
    for (const e of events) {
      expect(typeof e.name).toBe('string');
      expect(['X', 'C', 'i', 'M']).toContain(e.ph);
      expect(Number.isInteger(e.pid) && Number.isInteger(e.tid)).toBe(true);
      expect(Number.isFinite(e.ts) && e.ts >= 0).toBe(true);
      if (e.ph === 'X') expect(e.dur).toBeGreaterThanOrEqual(0);
      if (e.ph === 'i') expect(e.s).toBe('g');
    }
    expect(trace.otherData).toMatchObject({ parallelism: 4, lanes: 2, exec: 'lanes' });
  });

  it('has one complete event per lane task, per block state and a counter per KV change', () => {
    expect(of('X', CHROME_PIDS.lanes)).toHaveLength(lines.filter((r) => r.kind === 'lane' && r['phase'] === 'end').length);
    const blockStates = lines.filter((r) => r.kind === 'state' && String(r['actor']).startsWith('block.') && r['state'] !== 'done');
    expect(of('X', CHROME_PIDS.blocks)).toHaveLength(blockStates.length);
    expect(of('C', CHROME_PIDS.kv)).toHaveLength(lines.filter((r) => r.kind === 'kv').length);
    expect(of('i')).toHaveLength(lines.filter((r) => r.kind === 'switch' || r.kind === 'recache').length);
    // Names: 3 processes, 2 lanes, 12 blocks.
    expect(of('M')).toHaveLength(3 + 2 + 12);
  });

  it('names lane tasks by block and stage and times them in microseconds', () => {
    const firstShare = lines.find((r) => r.kind === 'lane' && r['task'] === 'share' && r['phase'] === 'start') as Raw;
    const event = of('X', CHROME_PIDS.lanes).find((e) => e.cat === 'share');
    expect(event?.ts).toBeCloseTo(firstShare.t * 1000, 3);
    expect(event?.name).toBe('B0 t3');
    expect(laneTaskName({ task: 'share', blocks: [3, 4], stages: [1, 0] }, STAGES)).toBe('B3 t2 · B4 t3');
    expect(laneTaskName({ task: 'recache', blocks: [0, 1], stages: [] }, STAGES)).toBe('recache B0 B1');
  });
});

describe('tick breakdown', () => {
  it('splits each tick into session.run, K/V wait and the rest, and measures the gaps between ticks', async () => {
    const { tickBreakdown } = await import('../src/inspector/tick-breakdown.js');
    const share = (lane: number, tick: number, start: number, end: number, runMs: number, exchangeWaitMs: number): TraceRecord[] => [
      { kind: 'lane', t: start, lane, phase: 'start', task: 'share', blocks: [tick], stages: [0], tick },
      { kind: 'lane', t: end, lane, phase: 'end', task: 'share', blocks: [tick], stages: [0], tick, runMs, exchangeWaitMs },
    ];
    // Three ticks of 10 ms on two lanes, 2 ms apart; a decode in between is not a tick.
    const records: TraceRecord[] = [
      ...share(0, 0, 0, 10, 6, 1), ...share(1, 0, 0.5, 9, 5, 3),
      { kind: 'lane', t: 10.5, lane: 1, phase: 'start', task: 'decode', blocks: [0], stages: [] },
      { kind: 'lane', t: 11, lane: 1, phase: 'end', task: 'decode', blocks: [0], stages: [] },
      ...share(0, 1, 12, 22, 7, 1), ...share(1, 1, 12, 21, 6, 2),
      ...share(0, 2, 24, 34, 6, 2), ...share(1, 2, 24, 33, 5, 2),
    ];
    expect(tickBreakdown(records)).toEqual({ ticks: 3, tickMs: 10, runMs: 6, waitMs: 2, otherMs: 1, gapMs: 2 });
    expect(tickBreakdown(records.filter((r) => r.kind !== 'lane' || r.task === 'decode'))).toBeNull();
    const fixture = tickBreakdown(parseTrace(readFileSync('test/fixtures/p4-lanes.jsonl', 'utf8'), 'p4'));
    expect(fixture?.ticks).toBe(16);
    expect(fixture!.runMs).toBeGreaterThan(0);
    expect(fixture!.waitMs).toBeGreaterThan(0);
  });
});
