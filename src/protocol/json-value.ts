/** Helpers for error messages about untrusted JSON: find the offending value and show it briefly. */

/**
 * The value at `path` inside `root`, or undefined.
 *
 * @example
 * ```ts
 * valueAt({ a: [1, { b: 2 }] }, ['a', 1, 'b']); // 2
 * ```
 */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/**
 * A value as short JSON for an error message (cut at 60 characters).
 *
 * @example
 * ```ts
 * show('4'); // '"4"'
 * ```
 */
export function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  // Written by hand, stopping once past the limit: JSON.stringify of untrusted input nested
  // 100,000 deep overflows the stack, and of a huge array takes its whole length.
  const LIMIT = 60;
  let out = '';
  const write = (v: unknown): void => {
    if (Array.isArray(v)) {
      out += '[';
      for (let i = 0; i < v.length && out.length <= LIMIT; i++) {
        if (i > 0) out += ',';
        write(v[i] === undefined || typeof v[i] === 'function' ? null : v[i]);
      }
      out += ']';
    } else if (v !== null && typeof v === 'object') {
      out += '{';
      let first = true;
      for (const key of Object.keys(v)) {
        if (out.length > LIMIT) break;
        const x = (v as Record<string, unknown>)[key];
        if (x === undefined || typeof x === 'function') continue;
        out += `${first ? '' : ','}${JSON.stringify(key)}:`;
        first = false;
        write(x);
      }
      out += '}';
    } else {
      out += JSON.stringify(v) ?? 'null';
    }
  };
  write(value);
  return out.length > LIMIT ? `${out.slice(0, LIMIT - 3)}...` : out;
}
