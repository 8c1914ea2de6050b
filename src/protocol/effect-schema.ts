/**
 * Effect Schema, loaded on first use. Its modules take 0.3–0.5 s to load, which every process
 * that imported the package would pay at its start, decoding something or not (a service
 * embedding the runtime, a worker restarted under a live session). The package is ESM, and an
 * ESM import cannot wait until a synchronous decoder is first called, so the decoders take
 * Effect's CommonJS build through `require` when they first need it: one copy for the session
 * file and the manifest decoders alike.
 */
import { createRequire } from 'node:module';
import type * as EitherModule from 'effect/Either';
import type * as JSONSchemaModule from 'effect/JSONSchema';
import type * as ParseResultModule from 'effect/ParseResult';
import type * as SchemaModule from 'effect/Schema';

/** The Effect modules the decoders use. */
export interface EffectSchema {
  readonly Schema: typeof SchemaModule;
  readonly Either: typeof EitherModule;
  readonly ParseResult: typeof ParseResultModule;
  readonly JSONSchema: typeof JSONSchemaModule;
}

let loaded: EffectSchema | undefined;

/**
 * Effect's Schema, Either, ParseResult and JSONSchema modules, loaded by the first call.
 *
 * @example
 * ```ts
 * const { Schema, Either } = effectSchema();
 * const decoded = Schema.decodeUnknownEither(Schema.Number)(json);
 * if (Either.isLeft(decoded)) throw new Error('not a number');
 * ```
 */
export function effectSchema(): EffectSchema {
  if (loaded === undefined) {
    const require = createRequire(import.meta.url);
    loaded = {
      Schema: require('effect/Schema') as typeof SchemaModule,
      Either: require('effect/Either') as typeof EitherModule,
      ParseResult: require('effect/ParseResult') as typeof ParseResultModule,
      JSONSchema: require('effect/JSONSchema') as typeof JSONSchemaModule,
    };
  }
  return loaded;
}
