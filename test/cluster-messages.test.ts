/** The cluster's pure parts: placement order, resume requests, and checking decoded messages. */
import { describe, expect, it } from 'vitest';
import { ClusterMessageError } from '../src/cluster/errors.js';
import { connect } from '../src/cluster/client.js';
import { InvalidOptionError } from '../src/core/errors.js';
import { decodeControlRequest, decodeFrame, decodeOpenRequest, decodeSessionMessage, encodeClusterMessage, encodeFrame } from '../src/cluster/messages.js';
import { DEFAULT_SNAPSHOT_EVERY, snapshotEveryFor } from '../src/cluster/snapshot-defaults.js';
import { rankWorkers, RECENT_OFFER_MS, RecentOffers, resumeRequest, type WorkerEntry } from '../src/cluster/placement.js';
import { encodeMessage } from '../src/protocol/codec.js';

const entry = (id: string, active: number, maxSessions: number, writtenAt = 1000, healthy = true): WorkerEntry => ({ info: { id, lanes: 1, maxSessions, active, healthy, host: 'h', updatedAt: writtenAt }, writtenAt });

describe('placement', () => {
  it('offers the least-loaded healthy, fresh workers with a free session first', () => {
    const order = rankWorkers([entry('a', 1, 2), entry('b', 0, 1), entry('c', 1, 1), entry('d', 0, 4), entry('e', 0, 1, 1000, false), entry('f', 0, 1, -5000)], 1500, 3000);
    expect(order.map((w) => w.id)).toEqual(['d', 'b', 'a']);
  });
  it("counts the client's recent offers in the load, for the order only, until they age out or are refused", () => {
    let now = 0;
    const offers = new RecentOffers(() => now);
    const two = [entry('a', 0, 2), entry('b', 0, 2)];
    // Two sessions placed together: the second sees the first's offer to a, which a's entry does not show yet.
    expect(rankWorkers(two, 1000, 3000, offers.counts())[0]?.id).toBe('a');
    const first = offers.add('a');
    expect(rankWorkers(two, 1000, 3000, offers.counts())[0]?.id).toBe('b');
    // An entry that already counts the session: a stays in the list (capacity is the entry's word).
    expect(rankWorkers([entry('a', 1, 2)], 1000, 3000, new Map([['a', 5]])).map((w) => w.id)).toEqual(['a']);
    offers.remove(first);
    expect(offers.counts().size).toBe(0);
    offers.add('b');
    now = RECENT_OFFER_MS + 1;
    expect(offers.counts().size).toBe(0);
  });
  it('gives nothing when every worker is full', () => {
    expect(rankWorkers([entry('a', 1, 1), entry('b', 2, 2)], 1000)).toEqual([]);
  });
  it('resumes with the scheduled and landed live switches in block order, a later one at the same block winning', () => {
    const request = { seed: 1, blocks: 10, prompt: 'a', switches: [{ atBlock: 4, prompt: 'b' }] };
    expect(resumeRequest(request, [{ atBlock: 2, prompt: 'c' }, { atBlock: 4, prompt: 'd' }, { atBlock: 12, prompt: 'late' }])).toEqual({ seed: 1, blocks: 10, prompt: 'a', switches: [{ atBlock: 2, prompt: 'c' }, { atBlock: 4, prompt: 'd' }] });
    expect(resumeRequest({ seed: 1, blocks: 4, prompt: 'a' }, [{ atBlock: 0, prompt: 'z' }])).toEqual({ seed: 1, blocks: 4, prompt: 'z' });
  });
});

describe('messages', () => {
  const open = { sessionId: 's1', request: { seed: 1, blocks: 8, prompt: 'red ball moving left' }, options: { cascade: { parallelism: 4 }, priority: 'high' as const }, resume: { switches: [], skipFrames: 3 }, credit: 24, paused: false };

  it('round-trips an open request, a control request and a frame', () => {
    expect(decodeOpenRequest(encodeClusterMessage(open), 'bc.worker.w1.open')).toEqual(open);
    expect(decodeControlRequest(encodeClusterMessage({ type: 'credit', upTo: 48 }), 'x')).toEqual({ type: 'credit', upTo: 48 });
    expect(decodeControlRequest(encodeClusterMessage({ type: 'priority', level: 'normal' }), 'x')).toEqual({ type: 'priority', level: 'normal' });
    const rgb = Uint8Array.from({ length: 2 * 3 * 3 }, (_, i) => i);
    const frame = { index: 5, block: 1 as never, width: 3, height: 2, rgb };
    // Through a Node Buffer at an odd offset, as NATS delivers it.
    const bytes = encodeFrame(frame);
    const pooled = Buffer.alloc(bytes.length + 3);
    pooled.set(bytes, 3);
    expect(decodeFrame(pooled.subarray(3), 'x')).toEqual(frame);
  });

  it('an open request may leave the snapshot interval to the worker, which picks every block at P0 with keyframes and 4 otherwise', () => {
    const auto = { ...open, snapshots: { key: 'k', keyframeEvery: 16 } };
    expect(decodeOpenRequest(encodeClusterMessage(auto), 's')).toEqual(auto);
    expect(() => decodeOpenRequest(encodeClusterMessage({ ...auto, snapshots: { every: 0, key: 'k' } }), 's')).toThrow(/field "snapshots.every"/);
    expect([snapshotEveryFor(0, 16), snapshotEveryFor(0, 0), snapshotEveryFor(4, 16), snapshotEveryFor(1, 16)]).toEqual([1, DEFAULT_SNAPSHOT_EVERY, DEFAULT_SNAPSHOT_EVERY, DEFAULT_SNAPSHOT_EVERY]);
  });

  it('round-trips a snapshot notice and a resume with the parts it refers to, and names a bad part', () => {
    const notice = { type: 'snapshot' as const, block: 8, firstFrame: 24, name: 'k.w1.s5', parts: ['k.w1.s0', 'k.w1.s4'], bytes: 4096, captureMs: 1.5, storeMs: 3 };
    expect(decodeSessionMessage(encodeMessage(notice), 's')).toEqual(notice);
    const resume = { ...open, resume: { switches: [], skipFrames: 27, snapshot: notice.name, parts: notice.parts } };
    expect(decodeOpenRequest(encodeClusterMessage(resume), 's')).toEqual(resume);
    expect(() => decodeSessionMessage(encodeMessage({ ...notice, parts: ['k.w1.s0', 7] }), 's')).toThrow('field "parts[1]": expected a string');
    expect(() => decodeOpenRequest(encodeClusterMessage({ ...resume, resume: { ...resume.resume, parts: 'k.w1.s0' } } as never), 's')).toThrow('field "resume.parts": expected a list');
  });

  it('names the subject and field of a malformed message', () => {
    const bad = { ...open, request: { ...open.request, seed: -1 } };
    expect(() => decodeOpenRequest(encodeClusterMessage(bad as never), 'bc.worker.w1.open')).toThrow(ClusterMessageError);
    expect(() => decodeOpenRequest(encodeClusterMessage(bad as never), 'bc.worker.w1.open')).toThrow('malformed message on bc.worker.w1.open: field "request.seed": expected an integer ≥ 0');
    try {
      decodeControlRequest(encodeMessage({ type: 'credit', upTo: 'lots' }), 'bc.session.s1.control');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ClusterMessageError);
      expect((e as ClusterMessageError).field).toBe('upTo');
      expect((e as ClusterMessageError).subject).toBe('bc.session.s1.control');
    }
    expect(() => decodeSessionMessage(encodeMessage({ type: 'event', event: { type: 'block', block: 'x' } }), 's')).toThrow('field "event.block"');
    expect(() => decodeControlRequest(encodeMessage({ type: 'priority', level: 'urgent' }), 's')).toThrow('field "level"');
    expect(() => decodeOpenRequest(encodeClusterMessage({ ...open, options: { priority: 'urgent' } } as never), 's')).toThrow('field "options.priority"');
    // A block event while the consumer has read part of a block: a fraction of a block buffered.
    const partial = decodeSessionMessage(encodeMessage({ type: 'event', event: { type: 'block', block: 3, elapsedMs: 5, bufferedBlocks: 4 / 3 } }), 's');
    expect(partial).toMatchObject({ type: 'event', event: { type: 'block', bufferedBlocks: 4 / 3 } });
    expect(() => decodeSessionMessage(encodeMessage({ type: 'event', event: { type: 'block', block: 3, elapsedMs: 5, bufferedBlocks: -1 } }), 's')).toThrow('field "event.bufferedBlocks"');
    // The end event carries the session's forwards (what `run --nats` reports of feature caching).
    const end = { type: 'end', blocks: 4, stopped: false, forwards: 36, reusedForwards: 12 };
    expect(decodeSessionMessage(encodeMessage({ type: 'event', event: end }), 's')).toEqual({ type: 'event', event: end });
    expect(() => decodeSessionMessage(encodeMessage({ type: 'event', event: { ...end, reusedForwards: 'x' } }), 's')).toThrow('field "event.reusedForwards"');
  });

  it('refuses bytes that are not msgpack or not a tensor frame, as a typed error', () => {
    expect(() => decodeOpenRequest(Uint8Array.of(0xc1), 'subj')).toThrow(ClusterMessageError);
    expect(() => decodeFrame(Uint8Array.of(1, 2, 3), 'subj')).toThrow(/field "message": expected a tensor frame/);
  });
});

describe('connect options', () => {
  it('refuses a snapshot or keyframe period that is not an integer ≥ 0 before connecting, naming the option', async () => {
    for (const bad of [-1, 1.5, Number.NaN]) {
      for (const option of ['snapshotEvery', 'keyframeEvery'] as const) {
        const refused = connect({ servers: 'nats://127.0.0.1:1', [option]: bad });
        await expect(refused).rejects.toBeInstanceOf(InvalidOptionError);
        await expect(refused).rejects.toThrow(new RegExp(option));
      }
    }
  });
});
