// The web client's viseme timeline, run on shared cases: the reference the C# core must match.
//   node unity-bridge/Tools~/ts_visemes.mjs          # writes Tests/Editor/Vectors/visemes.json
//   node unity-bridge/Tools~/ts_visemes.mjs --check  # exit 1 when the committed file differs
// It bundles client-web/src/lipsync/{visemes,performance}.ts with the client's own esbuild (no
// copy of the TypeScript here), then records, for each case, VisemeTrack.targetsAt at many
// positions, toVrm and openness of those weights, a MouthSmoother run at uneven frame times, and
// Performance's talking flag and cues. NUnit's VisemeVectorTests compare the C# output with it.
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const web = path.resolve(here, '../../client-web');
const OUTPUT = path.resolve(here, '../Tests/Editor/Vectors/visemes.json');
const esbuild = createRequire(path.join(web, 'package.json'))('esbuild');

const entry = `
export { VisemeTrack, MouthSmoother, VISEMES, toVrm, openness } from './lipsync/visemes';
export { Performance } from './lipsync/performance';
`;
const bundle = await esbuild.build({
  stdin: { contents: entry, resolveDir: path.join(web, 'src'), loader: 'ts' },
  bundle: true, format: 'esm', platform: 'node', write: false, logLevel: 'error',
});
const lib = await import('data:text/javascript;base64,' + Buffer.from(bundle.outputFiles[0].text).toString('base64'));
const { VisemeTrack, MouthSmoother, VISEMES, toVrm, openness, Performance } = lib;

/** mulberry32: deterministic pseudo-random numbers, so the vectors never change by themselves. */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ev = (t_ms, viseme, duration_ms, weight = 1) => ({ t_ms, viseme, duration_ms, weight });
const r6 = (x) => Math.round(x * 1e6) / 1e6;

function randomSentences(seed, sentences, perSentence) {
  const rnd = seeded(seed);
  const out = [];
  let t = 0;
  for (let s = 0; s < sentences; s++) {
    const events = [];
    for (let i = 0; i < perSentence; i++) {
      const v = VISEMES[Math.floor(rnd() * VISEMES.length)];
      const dur = Math.round((5 + rnd() * 160) * 10) / 10;
      const w = v === 'sil' ? 0 : Math.round((0.5 + rnd() * 0.5) * 100) / 100;
      events.push(ev(Math.round(t * 10) / 10, v, dur, w));
      t += dur;
    }
    out.push(events);
    if (rnd() < 0.5) t += Math.round(rnd() * 300); // a gap between sentences (not contiguous)
  }
  return out;
}

// each case: sentences (added in the listed order), animation events, a sampling step
const CASES = [
  { name: 'one sentence (the web client test track)',
    sentences: [[ev(0, 'sil', 100, 0), ev(100, 'aa', 200), ev(300, 'PP', 100, 0.8), ev(400, 'oh', 200)]],
    anims: [{ t_ms: 0, action: 'talk_start' }, { t_ms: 250, action: 'emotion', name: 'happy' },
            { t_ms: 600, action: 'talk_end' }],
    step: 2.5 },
  { name: 'a short event between long ones',
    sentences: [[ev(0, 'aa', 300), ev(300, 'kk', 50), ev(350, 'oh', 300)]],
    anims: [{ t_ms: 0, action: 'talk_start' }, { t_ms: 340, action: 'gesture', name: 'nod' },
            { t_ms: 650, action: 'talk_end' }],
    step: 2.5 },
  { name: 'sentences out of order, with a gap and a near-contiguous join',
    sentences: [[ev(700, 'E', 120, 0.9), ev(820, 'SS', 60, 0.6), ev(880.4, 'ou', 90)],
                [ev(0, 'TH', 80, 0.7), ev(80, 'ih', 150, 0.8), ev(230, 'nn', 40, 0.6), ev(270, 'RR', 200, 0.7)]],
    anims: [{ t_ms: 0, action: 'talk_start' }, { t_ms: 700, action: 'emotion', name: 'sad' },
            { t_ms: 650, action: 'gesture', name: 'wave' }, { t_ms: 970.4, action: 'talk_end' }],
    step: 1.7 },
  { name: 'random sentences (seed 7)', sentences: randomSentences(7, 3, 20),
    anims: [{ t_ms: 0, action: 'talk_start' }, { t_ms: 1000, action: 'emotion', name: 'surprised' }],
    step: 7.3 },
];

function runCase(c) {
  const track = new VisemeTrack();
  for (const s of c.sentences) track.add(s);
  const samples = [];
  const end = track.endMs;
  const positions = [];
  for (let ms = -10; ms <= end + 50; ms += c.step) positions.push(Math.round(ms * 1000) / 1000);
  // the exact boundaries too, and just before them
  for (const s of c.sentences) for (const e of s) positions.push(e.t_ms, e.t_ms - 0.01, e.t_ms + e.duration_ms);
  positions.sort((a, b) => a - b);
  for (const ms of positions) {
    const w = track.targetsAt(ms);
    const sparse = [];
    w.forEach((x, i) => { if (x !== 0) sparse.push([i, r6(x)]); });
    const vrm = toVrm(w);
    samples.push({ ms, w: sparse, vrm: [vrm.aa, vrm.ih, vrm.ou, vrm.ee, vrm.oh].map(r6), open: r6(openness(w)) });
  }
  // the smoother at uneven frame times over the same timeline
  const smoother = new MouthSmoother();
  const rnd = seeded(99);
  const smooth = [];
  for (let ms = 0, i = 0; ms <= end + 300; i++) {
    const dt = [1 / 60, 1 / 30, 0.1, 0.004, 0.3][Math.floor(rnd() * 5)];
    ms += dt * 1000;
    const out = smoother.step(track.targetsAt(ms), dt);
    smooth.push({ dt, ms: r6(ms), w: Array.from(out, r6) });
  }
  // Performance: talking and cues at increasing positions
  const perf = new Performance();
  perf.begin(1);
  for (const s of c.sentences) perf.addVisemes(1, s);
  for (const a of c.anims) perf.addAnimation({ response_id: 1, ...a });
  const performance = [];
  for (let ms = -20; ms <= end + 40; ms += 20) {
    const f = perf.sample(ms);
    performance.push({ ms, talking: f.talking, cues: f.cues.map((q) => `${q.kind}:${q.name}`) });
  }
  return { name: c.name, sentences: c.sentences, anims: c.anims, end_ms: end, samples, smooth, performance };
}

const doc = {
  generated_by: 'unity-bridge/Tools~/ts_visemes.mjs from client-web/src/lipsync (rounded to 1e-6)',
  visemes: VISEMES,
  cases: CASES.map(runCase),
};
const text = JSON.stringify(doc) + '\n';
if (process.argv.includes('--check')) {
  const current = await readFile(OUTPUT, 'utf8').catch(() => '');
  if (current !== text) {
    console.error(`${OUTPUT} differs from the web client's output: run node unity-bridge/Tools~/ts_visemes.mjs`);
    process.exit(1);
  }
  console.log('visemes.json matches the web client');
} else {
  await writeFile(OUTPUT, text);
  console.log(`wrote ${OUTPUT} (${text.length} bytes)`);
}
