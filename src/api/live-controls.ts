/**
 * The controls a live session steers a running generation with: prompt switches, pause,
 * resume and stop, sent to its supervisor actor.
 */
import { checkPrompt } from '../core/options.js';
import type { Actor } from 'xstate';
import { freeContextSlot, type PromptSegment, type supervisorMachine } from '../actors/supervisor.js';
import type { ModelManifest } from '../core/manifest-types.js';
import { checkPromptWords, tokenizePrompt } from '../engine/model/tokenizer.js';
import type { LiveControls, SessionLink } from '../core/session-types.js';

/**
 * What holds admission back. A user's pause and the consumer's backpressure are independent:
 * admission resumes only when neither holds it.
 */
export interface AdmissionFlow {
  user: boolean;
  backpressure: boolean;
}

/** What the controls of one generation act on. */
export interface LiveControlTarget {
  readonly actor: Actor<typeof supervisorMachine>;
  readonly flow: AdmissionFlow;
  readonly link: SessionLink;
  readonly text: ModelManifest['text'];
  /** The generation's `allowUnknownWords`: live prompts are checked as the request's were. */
  readonly allowUnknownWords?: boolean;
  /** Prompt context slots of the runtime. */
  readonly contextSlots: number;
  /** Encodes a prompt's tokens into a context slot on some lane. */
  readonly encode: (tokens: number[], contextSlot: number) => Promise<unknown>;
  /** Called once a live switch has been handed to the supervisor (its prompt encoded into `contextSlot`). */
  readonly onSwitch: (prompt: string, fromBlock: number, contextSlot: number) => void;
  readonly onStop: () => void;
}

/**
 * Builds a generation's live controls. Switches are serialised: a slot is chosen, encoded and
 * handed to the supervisor before the next switch starts, so two quick switches never pick the
 * same free slot.
 *
 * @example
 * ```ts
 * link.attach(liveControls({ actor, flow, link, text: manifest.text, contextSlots: 4, encode, onSwitch, onStop }));
 * ```
 */
export function liveControls(target: LiveControlTarget): LiveControls {
  const { actor, flow, link } = target;
  let switching: Promise<unknown> = Promise.resolve();
  return {
    switchPrompt: (prompt) => {
      const next = switching.then(async () => {
        checkPrompt('prompt', prompt);
        // Before a slot is taken or a lane encodes: a refused prompt costs nothing.
        checkPromptWords('prompt', prompt, target.text, { allowUnknownWords: target.allowUnknownWords });
        const tokens = Array.from(tokenizePrompt(prompt, target.text), Number);
        const contextSlot = freeContextSlot(actor.getSnapshot().context, target.contextSlots);
        if (contextSlot === null) throw new Error('no free prompt slot: too many switches in flight');
        await target.encode(tokens, contextSlot);
        actor.send({ type: 'prompt.switch', contextSlot });
        const prompts = actor.getSnapshot().context.prompts;
        const fromBlock = (prompts[prompts.length - 1] as PromptSegment).fromBlock;
        link.emit({ type: 'switch', prompt, fromBlock });
        target.onSwitch(prompt, fromBlock, contextSlot);
        return { fromBlock };
      });
      switching = next.catch(() => {});
      return next;
    },
    pause: () => {
      if (flow.user) return;
      flow.user = true;
      if (!flow.backpressure) actor.send({ type: 'supervisor.pause' });
      link.emit({ type: 'paused', reason: 'user' });
    },
    resume: () => {
      if (!flow.user) return;
      flow.user = false;
      if (!flow.backpressure) actor.send({ type: 'supervisor.resume' });
      link.emit({ type: 'resumed' });
    },
    stop: () => {
      target.onStop();
      actor.send({ type: 'supervisor.stop' });
    },
  };
}
