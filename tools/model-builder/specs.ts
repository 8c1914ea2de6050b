/**
 * Lookup of a tensor spec by name in a contract graph spec.
 * @internal
 */
import type { TensorSpec } from '../../src/engine/model/contract.js';

export function specOf(specs: readonly TensorSpec[], name: string): TensorSpec {
  const spec = specs.find((s) => s.name === name);
  if (spec === undefined) throw new Error(`model builder: the contract has no tensor "${name}"`);
  return spec;
}
