/**
 * A value as an error message shows what it got. Errors are built from whatever a caller
 * passed or a decoder read, so this never throws (a BigInt or a circular object would make
 * `JSON.stringify` throw, turning a clear refusal into a bare `TypeError`) and never hides
 * what JSON cannot say (`NaN`, `Infinity` and `undefined` are not `null`).
 *
 * @example
 * ```ts
 * describeValue(NaN); // 'NaN'
 * describeValue(1n); // '1n'
 * describeValue('x'); // '"x"'
 * describeValue({ a: 1 }); // '{"a":1}'
 * ```
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `${value}n`;
    case 'undefined':
      return 'undefined';
    case 'symbol':
      return value.toString();
    case 'function':
      return 'a function';
    default:
      try {
        const json = JSON.stringify(value);
        return json.length > MAX_CHARS ? `${json.slice(0, MAX_CHARS)}… (${json.length} characters)` : json;
      } catch {
        // Circular, or holding a BigInt.
        return Array.isArray(value) ? `an array of ${value.length}` : 'an object that JSON cannot show';
      }
  }
}

/** Longer JSON is cut: a message names what was wrong, it does not reprint a whole input. */
const MAX_CHARS = 200;
