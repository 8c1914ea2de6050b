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
  const json = JSON.stringify(value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}
