/**
 * Writes schemas/session.schema.json, the JSON Schema of session files, from the Effect
 * schema that decodes them (src/protocol/session-file.ts): `npm run schema`. With `--check`,
 * exits 1 when the committed file is not what the schema gives (test/session-schema.test.ts
 * checks the same).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { sessionJsonSchema } from '../src/protocol/session-file.js';

const file = new URL('../schemas/session.schema.json', import.meta.url);
// Two-space JSON and a final newline: what the test compares with.
const text = `${JSON.stringify(sessionJsonSchema(), null, 2)}\n`;

if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(file, 'utf8');
  } catch {
    // missing: reported below
  }
  if (committed !== text) {
    process.stderr.write('schemas/session.schema.json is not what the session schema gives: run "npm run schema"\n');
    process.exit(1);
  }
} else {
  writeFileSync(file, text);
  process.stdout.write('wrote schemas/session.schema.json\n');
}
