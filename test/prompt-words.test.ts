/**
 * Prompts users can trust (issue 18): words the model does not know and prompts over its token
 * limit are refused before any work, by the one tokenizer, everywhere a prompt enters: the
 * request, scheduled and live switches, session files and the model card that lists the words.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPromptWords, createRuntime, InvalidOptionError, knownWords, planSession, PromptTooLongError, tokenizePrompt, UnknownWordsError, unknownWords, type Frame, type ModelManifest, type Runtime } from '../src/index.js';
import { modelCard } from '../src/cli/model-command.js';
import { planMemory } from '../src/engine/memory/memory-plan.js';
import { readManifest } from '../src/engine/model/loader.js';
import { defaultModelDir } from '../src/engine/model/paths.js';
import { SessionFileError } from '../src/protocol/session-file.js';

const TEXT = { vocabulary: ['<pad>', '<unk>', 'red', 'ball', 'moving', 'left'], maxTokens: 4 };

async function drain(frames: AsyncIterable<Frame>): Promise<number> {
  let n = 0;
  for await (const _ of frames) n++;
  return n;
}

describe('the tokenizer check', () => {
  it('names the unknown words (each once, in order) and lists the vocabulary in a typed error', () => {
    const error = (() => {
      try {
        checkPromptWords('prompt', 'Red squirrel, red Fox, squirrel', TEXT);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(UnknownWordsError);
    expect(error).toBeInstanceOf(InvalidOptionError);
    const e = error as UnknownWordsError;
    expect(e.unknownWords).toEqual(['squirrel', 'fox']);
    expect(e.vocabulary).toEqual(['red', 'ball', 'moving', 'left']);
    expect(e.option).toBe('prompt');
    expect(e.message).toBe('option "prompt": the model does not know the words "squirrel", "fox"; it knows: red ball moving left (allowUnknownWords: true reads unknown words as <unk>)');
  });

  it('refuses a prompt over the token limit, naming the limit', () => {
    expect(() => checkPromptWords('switches[1].prompt', 'red ball moving left red', TEXT)).toThrow(PromptTooLongError);
    expect(() => checkPromptWords('switches[1].prompt', 'red ball moving left red', TEXT)).toThrow('option "switches[1].prompt": expected at most 4 words (the model\'s token limit), got 5 words');
    // Unknown words allowed still count against the limit.
    expect(() => checkPromptWords('prompt', 'a b c d e', TEXT, { allowUnknownWords: true })).toThrow(PromptTooLongError);
  });

  it('lets unknown words through when asked, as <unk> tokens', () => {
    expect(() => checkPromptWords('prompt', 'red squirrel', TEXT, { allowUnknownWords: true })).not.toThrow();
    expect(Array.from(tokenizePrompt('red squirrel', TEXT))).toEqual([2n, 1n, 0n, 0n]);
    expect(unknownWords('red squirrel', TEXT.vocabulary)).toEqual(['squirrel']);
    expect(knownWords(TEXT.vocabulary)).toEqual(['red', 'ball', 'moving', 'left']);
    // Padding and unknown entries are never words.
    expect(unknownWords('pad unk', ['pad', 'unk', 'red'])).toEqual(['pad', 'unk']);
  });
});

describe('prompts the model does not know, at the runtime', () => {
  let runtime: Runtime;
  beforeAll(async () => {
    runtime = await createRuntime({ lanes: 1 });
  });
  afterAll(async () => {
    await runtime?.close();
  });

  it('refuses the request\'s prompt and a scheduled switch\'s before any work', async () => {
    const before = runtime.stats().forwards;
    const error = await drain(runtime.generate({ seed: 1, blocks: 2, prompt: 'red squirrel moving left' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownWordsError);
    expect((error as UnknownWordsError).unknownWords).toEqual(['squirrel']);
    expect((error as UnknownWordsError).vocabulary).toEqual(knownWords(runtime.manifest.text.vocabulary));
    await expect(drain(runtime.generate({ seed: 1, blocks: 4, prompt: 'red ball', switches: [{ atBlock: 2, prompt: 'blue zebra' }] }))).rejects.toThrow(/option "switches\[0\]\.prompt": the model does not know the word "zebra"/);
    await expect(drain(runtime.generate({ seed: 1, blocks: 2, prompt: 'red ball moving left slowly and quickly a the' }))).rejects.toThrow(/at most 8 words \(the model's token limit\), got 9 words/);
    expect(runtime.stats().forwards).toBe(before);
  });

  it('runs a prompt with unknown words when allowUnknownWords is set', async () => {
    expect(await drain(runtime.generate({ seed: 1, blocks: 1, prompt: 'red squirrel' }, { allowUnknownWords: true }))).toBe(runtime.manifest.framesPerBlock);
  });

  it('refuses a live switch with unknown words (the session goes on), and takes it with allowUnknownWords', async () => {
    const strict = runtime.session({ seed: 1, blocks: 3, prompt: 'red ball moving left' });
    const refused = strict.switchPrompt('blue squirrel');
    const framesA = drain(strict.frames);
    await expect(refused).rejects.toBeInstanceOf(UnknownWordsError);
    expect(await framesA).toBe(3 * runtime.manifest.framesPerBlock);

    const lenient = runtime.session({ seed: 1, blocks: 3, prompt: 'red ball moving left' }, { allowUnknownWords: true });
    const taken = lenient.switchPrompt('blue squirrel');
    const framesB = drain(lenient.frames);
    expect((await taken).fromBlock).toBeGreaterThan(0);
    await framesB;
  });
});

describe('session files and the model card', () => {
  let dir: string;
  let manifest: ModelManifest;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prompt-words-'));
    manifest = await readManifest(defaultModelDir());
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('planSession refuses a timeline prompt the model does not know, naming the file and field, unless allowed', async () => {
    const session = { seed: 1, blocks: 8, prompt: 'red ball', timeline: [{ atBlock: 2, prompt: 'blue ball' }, { atBlock: 4, prompt: 'green giraffe' }] };
    const file = join(dir, 's.json');
    await writeFile(file, JSON.stringify(session));
    const error = await planSession(session, file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionFileError);
    expect((error as Error).message).toContain(`${file}: field "timeline[1].prompt": the model does not know the word "giraffe"; it knows: red green`);
    expect((error as Error).cause).toBeInstanceOf(UnknownWordsError);
    expect((await planSession(session, file, { allowUnknownWords: true })).request.switches).toHaveLength(2);
  });

  it('the model card shows the vocabulary and the token limit', () => {
    const card = modelCard(manifest, planMemory(manifest));
    expect(card).toContain(`a prompt may have at most ${manifest.text.maxTokens} words (the token limit)`);
    expect(card).toContain(`vocabulary  ${knownWords(manifest.text.vocabulary).length} words, the only ones a prompt may use: ${knownWords(manifest.text.vocabulary).join(' ')}`);
  });
});
