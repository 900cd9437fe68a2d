// Generate a TypeScript client from the server's OpenAPI document (@hey-api/openapi-ts), type-check
// it together with openapi-client/main.ts (strict: every answer must be typed), compile, and run
// main.ts against the server; prints main's JSON result.
//   node e2e/openapi-client.mjs API_URL WORK_DIR
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@hey-api/openapi-ts';
import { log, main, report } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const WEB = dirname(HERE);
const [api, work] = process.argv.slice(2);

main(async () => {
  const src = join(work, 'src');
  mkdirSync(src, { recursive: true });
  const spec = await (await fetch(`${api}/api/openapi.json`)).json();
  writeFileSync(join(work, 'openapi.json'), JSON.stringify(spec));
  log('generating the client');
  await createClient({
    input: join(work, 'openapi.json'),
    output: { path: join(src, 'gen'), importFileExtension: '.js' },
    logs: { level: 'silent' },
  });
  copyFileSync(join(HERE, 'openapi-client', 'main.ts'), join(src, 'main.ts'));
  writeFileSync(join(work, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext',
                       strict: true, noUncheckedIndexedAccess: false, skipLibCheck: true,
                       lib: ['ES2022', 'DOM', 'DOM.Iterable'], types: ['node'],
                       typeRoots: [join(WEB, 'node_modules', '@types')], outDir: 'out',
                       rootDir: 'src' },
    include: ['src'],
  }));
  writeFileSync(join(work, 'package.json'), JSON.stringify({ type: 'module' }));
  log('type-checking and compiling');
  try {
    execFileSync(process.execPath, [join(WEB, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', work],
                 { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`tsc failed:\n${err.stdout}${err.stderr}`);
  }
  log('calling the server through the generated client');
  const out = execFileSync(process.execPath, [join(work, 'out', 'main.js'), api],
                           { stdio: ['ignore', 'pipe', 'inherit'] }).toString();
  report({ ok: true, ...JSON.parse(out.trim().split('\n').pop()) });
});
