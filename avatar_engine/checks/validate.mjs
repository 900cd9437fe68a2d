// The Khronos glTF-Validator (npm gltf-validator) as a long-lived worker: one JSON request per
// line on stdin ({"id", "path"}), one JSON answer per line on stdout ({"id", "errors",
// "warnings", "infos", "hints", "messages": [...]}, or {"id", "error"}). Started by
// avatar_engine/checks/gltf_validator.py with NODE_PATH pointing at client-web/node_modules.
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const validator = require('gltf-validator');
const SEVERITY = ['error', 'warning', 'info', 'hint'];

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  let id = null;
  try {
    const req = JSON.parse(line);
    id = req.id;
    const data = await readFile(req.path);
    const report = await validator.validateBytes(new Uint8Array(data), {
      maxIssues: 200,
      format: req.path.endsWith('.gltf') ? 'gltf' : 'glb',
      externalResourceFunction: () => Promise.reject(new Error('external resources are not allowed')),
    });
    const issues = report.issues;
    process.stdout.write(`${JSON.stringify({
      id,
      version: report.validatorVersion,
      errors: issues.numErrors,
      warnings: issues.numWarnings,
      infos: issues.numInfos,
      hints: issues.numHints,
      messages: issues.messages.slice(0, 50).map((m) => ({
        code: m.code, message: m.message, pointer: m.pointer ?? null,
        severity: SEVERITY[m.severity] ?? String(m.severity),
      })),
    })}\n`);
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ id, error: String(err && err.message || err) })}\n`);
  }
}
