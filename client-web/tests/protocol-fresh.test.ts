// The committed src/protocol/generated.ts must equal a fresh generation from
// docs/protocol.schema.json (the single protocol definition). Fix: npm run gen:protocol
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { generate, OUTPUT_PATH, SCHEMA_PATH } from '../scripts/gen-protocol.mjs';

describe('generated protocol types', () => {
  it('are up to date with docs/protocol.schema.json', async () => {
    const fresh: string = await generate(await readFile(SCHEMA_PATH, 'utf8'));
    const committed = await readFile(OUTPUT_PATH, 'utf8');
    expect(committed, 'stale: run `npm run gen:protocol` in client-web').toBe(fresh);
  }, 30_000);

  it('cover every message of the schema', async () => {
    const schema = JSON.parse(await readFile(SCHEMA_PATH, 'utf8')) as { $defs: Record<string, unknown> };
    const committed = await readFile(OUTPUT_PATH, 'utf8');
    for (const name of Object.keys(schema.$defs)) {
      expect(committed).toMatch(new RegExp(`export (interface|type) ${name}\\b`));
    }
  });
});
