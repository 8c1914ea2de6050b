import { describe, expect, it } from 'vitest';
import { promptGroups } from '../src/core/prompt-groups.js';
import type { TickMember, TickPlan } from '../src/core/tick.js';
import { sumTimings } from '../src/engine/executors/own-prompts.js';

const member = (block: number, stage: number, contextSlot: number): TickMember => ({
  block,
  stage: stage as TickMember['stage'],
  features: 'compute',
  seed: 1,
  latentSlot: block % 6,
  contextSlot,
  positions: [block * 3, block * 3 + 1, block * 3 + 2],
});
const plan = (members: TickMember[]): TickPlan => ({ tick: 9, members, attention: 'causal', pastSlots: [0, 1, 2], cacheSlots: [3, 4, 5] });
const view = (calls: readonly TickPlan[]) => calls.map((c) => ({ members: c.members.map((m) => `${m.block}${m.commit === false ? '' : '*'}@${m.contextSlot}`), cache: c.cacheSlots }));

describe('promptGroups', () => {
  it('hands a tick with one prompt over unchanged', () => {
    const p = plan([member(4, 4, 0), member(5, 3, 0), member(6, 2, 0)]);
    expect(promptGroups(p)).toEqual([p]);
  });

  it('runs the newest prompt first over every member, then each older prompt over its prefix', () => {
    // Block 4 caches, 5 and 6 under prompt 0, 7 and 8 admitted after a switch to prompt 1.
    const calls = promptGroups(plan([member(4, 4, 0), member(5, 3, 0), member(6, 2, 0), member(7, 1, 1), member(8, 0, 1)]));
    expect(view(calls)).toEqual([
      { members: ['4@0', '5@0', '6@0', '7*@1', '8*@1'], cache: null },
      { members: ['4*@0', '5*@0', '6*@0'], cache: [3, 4, 5] },
    ]);
  });

  it('gives each of three prompts its own call, the caching block committed once', () => {
    const calls = promptGroups(plan([member(4, 4, 0), member(5, 3, 1), member(6, 2, 2)]));
    expect(view(calls)).toEqual([
      { members: ['4@0', '5@1', '6*@2'], cache: null },
      { members: ['4@0', '5*@1'], cache: null },
      { members: ['4*@0'], cache: [3, 4, 5] },
    ]);
    // Every member is committed by exactly one call.
    const commits = calls.flatMap((c) => c.members.filter((m) => m.commit !== false).map((m) => m.block));
    expect(commits.sort()).toEqual([4, 5, 6]);
  });
});

describe("a split tick's timings", () => {
  it("keep every call's decide choices (the commit reads them), and sum the counts", () => {
    const base = { forwards: 2, calls: 1, runMs: 1, workerMs: 1, taskMs: 1 };
    const joined = sumTimings([
      { ...base, reused: 1, decided: new Map([[3, 'reuse' as const]]) },
      { ...base, reused: 0, reusedTogether: 0 },
      { ...base, decided: new Map([[5, 'compute' as const]]) },
    ]);
    expect(joined.decided).toEqual(new Map([[3, 'reuse'], [5, 'compute']]));
    expect(joined).toMatchObject({ forwards: 6, calls: 3, reused: 1, reusedTogether: 0 });
    expect(sumTimings([base, base]).decided).toBeUndefined();
  });
});
