/**
 * `window.__avatarTest` (only with `?test` in the URL): probes the end-to-end tests use to check
 * what really happened in the page — samples handed to and played by the AudioContext, the
 * avatar's actual mouth morph values, states and counters — plus two controls (freeze the
 * rendered frame for a screenshot, force mouth shapes). See docs/client-web.md.
 */
import type { Conversation } from '../conversation/controller';
import { useCreate } from '../create/store';
import { useStore } from '../state/store';
import type { Rig } from '../avatar/rig';
import { MORPH_NAME, OPENNESS, VISEMES } from '../lipsync/visemes';

let rig: Rig | null = null;
/** How far each probed mouth control opens the jaw (GLB morph names and VRM expressions). */
const JAW: Record<string, number> = {
  ...Object.fromEntries(VISEMES.map((v) => [MORPH_NAME[v], OPENNESS[v]])),
  aa: 1, oh: 0.7, ee: 0.5, ih: 0.3, ou: 0.3, jawOpen: 1, mouthOpen: 1,
};
/** Test-only controls: hold the rendered frame still (for a screenshot), or force mouth shapes. */
export const testControls = { frozen: false, mouth: null as Float32Array | null };
let mouthLog: { t: number; open: number; jaw: number }[] = [];

export function setTestRig(r: Rig | null): void {
  rig = r;
}

/** Called every rendered frame: logs the mouth morph values actually set on the model (their
 * sum, `viseme_sil` excluded). */
export function recordMouth(): void {
  if (!rig) return;
  let open = 0;
  let jaw = 0;
  for (const [name, w] of Object.entries(rig.probe())) {
    if (name !== 'viseme_sil') open += w;
    jaw += w * (JAW[name] ?? 0);
  }
  mouthLog.push({ t: performance.now(), open, jaw: Math.min(1, jaw) });
  if (mouthLog.length > 4000) mouthLog = mouthLog.slice(-3000);
}

export const testing = typeof location !== 'undefined' && new URLSearchParams(location.search).has('test');

export function installTestHook(c: Conversation): void {
  // what the page showed while answers streamed: response id -> distinct text lengths seen
  const streamed: Record<number, number[]> = {};
  let micLevelMax = 0;
  const activityLog: { t: number; activity: string }[] = [];
  useStore.subscribe((s) => {
    micLevelMax = Math.max(micLevelMax, s.micLevel);
    if (activityLog.at(-1)?.activity !== s.activity) activityLog.push({ t: performance.now(), activity: s.activity });
    for (const m of s.messages) {
      if (m.role !== 'assistant' || m.status !== 'streaming' || m.responseId === undefined) continue;
      const seen = (streamed[m.responseId] ??= []);
      if (seen.at(-1) !== m.text.length) seen.push(m.text.length);
    }
  });
  const hook = {
    audio: () => ({ ...c.player.stats, lastFlush: c.player.stats.lastFlush && { ...c.player.stats.lastFlush }, context: c.player.contextState, leadS: c.player.leadS,
                    playing: c.player.active, responseId: c.player.responseId }),
    morphs: () => rig?.probe() ?? {},
    rig: () => (rig ? { kind: rig.kind, mouth: rig.describe(), clips: rig.root.animations.map((a) => a.name),
                        vrm: rig.vrmInfo?.() ?? null } : null),
    /** The avatar creation panel: the job, the steps seen, the preview. */
    create: () => {
      const s = useCreate.getState();
      return { job: s.job, steps: s.steps, preview: s.preview, message: s.message, characterId: s.characterId };
    },
    mouthOpen: () => mouthLog.at(-1)?.open ?? 0,
    /** Jaw opening (0..1) of the morph values on screen: aa 1, oh .7, E .5, PP 0 … */
    jawOpen: () => mouthLog.at(-1)?.jaw ?? 0,
    maxMouthOpen: (sinceMs = 0) => mouthLog.filter((m) => m.t >= sinceMs).reduce((a, m) => Math.max(a, m.open), 0),
    frames: () => mouthLog.length,
    state: () => {
      const s = useStore.getState();
      return {
        link: s.link, activity: s.activity, mic: s.mic, session: s.session, latency: s.latency,
        errors: s.errors, messages: s.messages, avatar: s.avatar, characters: s.characters,
      };
    },
    counters: () => ({ ...c.counters, events: { ...c.counters.events }, audioDone: { ...c.counters.audioDone } }),
    streamed: () => streamed,
    micLevelMax: () => micLevelMax,
    activityLog: () => activityLog.slice(),
    now: () => performance.now(),
    /** Stop updating and rendering the avatar (the canvas keeps its last frame) / resume. */
    freeze: (on: boolean) => {
      testControls.frozen = on;
    },
    /** Force viseme weights (protocol order, 15 numbers), or null to follow the audio again. */
    forceMouth: (weights: number[] | null) => {
      testControls.mouth = weights ? Float32Array.from(weights) : null;
    },
  };
  (window as unknown as { __avatarTest: typeof hook }).__avatarTest = hook;
}
