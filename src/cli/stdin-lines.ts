/**
 * Lines from a stream with bounded memory: a line longer than the limit is counted, not kept,
 * so a hostile stdin without newlines cannot grow the process (readline keeps a whole line).
 */
import { StringDecoder } from 'node:string_decoder';

/** What one line of input is: its text (without `\r\n`/`\n`), or only its length when over the limit. */
export type InputLine = { readonly line: string } | { readonly overlong: number };

/**
 * Splits text that arrives in chunks into lines, keeping at most `max` characters of a line.
 *
 * @example
 * ```ts
 * const lines = new LineSplitter(4096);
 * lines.push('blue ball'); // []
 * lines.push(' moving up\nred'); // [{ line: 'blue ball moving up' }]
 * lines.end(); // [{ line: 'red' }]
 * ```
 */
export class LineSplitter {
  #current = '';
  /** Characters of the current line beyond `max` (counted, dropped). */
  #dropped = 0;
  /** The last chunk ended with `\r`: a `\n` starting the next one belongs to it. */
  #afterCr = false;

  constructor(private readonly max: number) {}

  /** The lines that `chunk` completes (ended by `\n`, `\r\n` or `\r`, as readline ends them). */
  push(chunk: string): InputLine[] {
    const out: InputLine[] = [];
    let from = this.#afterCr && chunk.startsWith('\n') ? 1 : 0;
    if (chunk !== '') this.#afterCr = false;
    for (;;) {
      const end = nextBreak(chunk, from);
      this.#take(chunk.slice(from, end < 0 ? chunk.length : end));
      if (end < 0) return out;
      out.push(this.#finish());
      from = end + 1;
      if (chunk[end] === '\r') {
        if (chunk[from] === '\n') from++;
        else if (from === chunk.length) this.#afterCr = true;
      }
    }
  }

  /** The last line, if the input did not end with a newline. */
  end(): InputLine[] {
    return this.#current === '' && this.#dropped === 0 ? [] : [this.#finish()];
  }

  #take(text: string): void {
    const room = this.max + 1 - this.#current.length;
    if (text.length <= room) this.#current += text;
    else {
      this.#current += text.slice(0, room);
      this.#dropped += text.length - room;
    }
  }

  #finish(): InputLine {
    const line = this.#current;
    const length = line.length + this.#dropped;
    this.#current = '';
    this.#dropped = 0;
    return length > this.max ? { overlong: length } : { line };
  }
}

/** Index of the next `\r` or `\n` at or after `from`, or −1. */
function nextBreak(text: string, from: number): number {
  const cr = text.indexOf('\r', from);
  const lf = text.indexOf('\n', from);
  return cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
}

/**
 * Calls `onLine` for every line of `input` (UTF-8) as it arrives; returns the function that stops
 * reading (and pauses the stream, so that an open stdin does not keep the process alive).
 *
 * @example
 * ```ts
 * const stop = readLines(process.stdin, 4096, (l) => ('line' in l ? switchTo(l.line) : warn(l.overlong)));
 * ```
 */
export function readLines(input: NodeJS.ReadableStream, max: number, onLine: (line: InputLine) => void): () => void {
  const decoder = new StringDecoder('utf8');
  const lines = new LineSplitter(max);
  const onData = (chunk: Buffer | string) => {
    for (const line of lines.push(typeof chunk === 'string' ? chunk : decoder.write(chunk))) onLine(line);
  };
  const onEnd = () => {
    for (const line of [...lines.push(decoder.end()), ...lines.end()]) onLine(line);
  };
  input.on('data', onData);
  input.once('end', onEnd);
  return () => {
    input.off('data', onData);
    input.off('end', onEnd);
    input.pause();
  };
}
