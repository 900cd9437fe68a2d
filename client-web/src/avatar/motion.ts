/**
 * Procedural body and face motion (pure, deterministic for a seed): breathing, blinking, small
 * head and eye movement while idle; livelier head motion while talking, following the mouth's
 * openness; gestures (nod, shake_head, bow, laugh, think, shrug, wave) and emotions from the
 * server's `avatar.animation` events.
 */
import type { Cue, Emotion } from '../lipsync/performance';

export type Euler3 = [pitch: number, yaw: number, roll: number];
export type BodyBone = 'spine' | 'chest' | 'neck' | 'head';

export interface Pose {
  bones: Record<BodyBone, Euler3>;
  /** Gaze offset (radians): yaw (+ left of the avatar), pitch (+ up). */
  eyes: [number, number];
  blink: [left: number, right: number];
  /** Emotion weights 0..1 (smoothed). */
  emotions: Record<Exclude<Emotion, 'neutral'>, number>;
}

export interface MotionInput {
  talking: boolean;
  /** Mouth openness 0..1 (smoothed visemes). */
  energy: number;
  cues: readonly Cue[];
}

/** mulberry32: a tiny seeded PRNG so motion is reproducible in tests. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Smooth pseudo-noise in about [-1, 1]: incommensurate sines. */
function wobble(t: number, k: number): number {
  return (Math.sin(t * 1.0 + k) * 0.5 + Math.sin(t * 2.31 + k * 1.7) * 0.3 + Math.sin(t * 4.13 + k * 2.9) * 0.2);
}

/** 0 -> 1 -> 0 over x in [0, 1]. */
function bell(x: number): number {
  return x <= 0 || x >= 1 ? 0 : Math.sin(Math.PI * x) ** 2;
}

const GESTURE_S: Record<string, number> = {
  nod: 1.1, shake_head: 1.4, bow: 1.8, laugh: 1.6, think: 2.6, shrug: 1.4, wave: 1.6,
};
const EMOTION_HOLD_S = 6;
const BLINK_S = 0.16;

export class Motion {
  private t = 0;
  private talk = 0;
  private energy = 0;
  private nextBlink: number;
  private blinkAt = -10;
  private doubleBlink = false;
  private nextSaccade = 0;
  private gaze: [number, number] = [0, 0];
  private gazeTarget: [number, number] = [0, 0];
  private gesture: { name: string; start: number } | null = null;
  private emotion: { name: Exclude<Emotion, 'neutral'>; until: number } | null = null;
  private readonly emotions: Pose['emotions'] = { happy: 0, sad: 0, angry: 0, surprised: 0, relaxed: 0 };

  constructor(private readonly random: () => number = seeded(7)) {
    this.nextBlink = 1 + random() * 2;
  }

  /** Blink now (tests; and a blink goes well with the start of a turn). */
  blink(): void {
    this.blinkAt = this.t;
  }

  update(dtS: number, input: MotionInput): Pose {
    const dt = Math.max(0, Math.min(dtS, 0.1));
    const t = (this.t += dt);
    for (const cue of input.cues) this.cue(cue);
    const follow = (cur: number, target: number, tau: number) => cur + (target - cur) * (1 - Math.exp(-dt / tau));
    this.talk = follow(this.talk, input.talking ? 1 : 0, 0.3);
    this.energy = follow(this.energy, input.energy, 0.12);

    // --- blinking
    if (t >= this.nextBlink) {
      this.blinkAt = t;
      this.doubleBlink = this.random() < 0.15;
      this.nextBlink = t + 2 + this.random() * 3.5;
    }
    let since = t - this.blinkAt;
    if (this.doubleBlink && since > BLINK_S + 0.08) since -= BLINK_S + 0.08;
    const blink = since >= 0 && since < BLINK_S
      ? (since < BLINK_S * 0.4 ? since / (BLINK_S * 0.4) : 1 - (since - BLINK_S * 0.4) / (BLINK_S * 0.6))
      : 0;

    // --- gaze: mostly at the viewer, small saccades
    if (t >= this.nextSaccade) {
      const away = this.random() < 0.35;
      this.gazeTarget = away ? [(this.random() - 0.5) * 0.25, (this.random() - 0.5) * 0.12] : [0, 0];
      this.nextSaccade = t + 0.8 + this.random() * 2.2;
    }
    this.gaze = [follow(this.gaze[0], this.gazeTarget[0], 0.05), follow(this.gaze[1], this.gazeTarget[1], 0.05)];

    // --- idle: breathing and a slowly wandering head
    const breath = Math.sin((t * 2 * Math.PI) / 4.2);
    const head: Euler3 = [0.035 * wobble(t * 0.31, 1), 0.06 * wobble(t * 0.23, 2), 0.025 * wobble(t * 0.19, 3)];
    const chest: Euler3 = [-0.012 * breath, 0, 0];
    const spine: Euler3 = [0.006 * breath, 0.01 * wobble(t * 0.11, 4), 0];
    // --- talking: livelier, nodding with the mouth's energy
    head[0] += this.talk * (0.05 * this.energy + 0.02 * wobble(t * 1.9, 5));
    head[1] += this.talk * 0.04 * wobble(t * 0.9, 6);
    head[2] += this.talk * 0.02 * wobble(t * 1.3, 7);
    spine[0] += this.talk * 0.01 * wobble(t * 0.7, 8);
    const neck: Euler3 = [0, 0, 0];
    const eyes: [number, number] = [...this.gaze];

    // --- gestures
    if (this.gesture) {
      const g = this.gesture;
      const len = GESTURE_S[g.name] ?? 1.2;
      const x = (t - g.start) / len;
      if (x >= 1) this.gesture = null;
      else {
        const env = bell(x);
        const s = t - g.start;
        switch (g.name) {
          case 'nod': head[0] += 0.14 * Math.sin(2 * Math.PI * 2 * s) * env; break;
          case 'shake_head': head[1] += 0.16 * Math.sin(2 * Math.PI * 2.2 * s) * env; break;
          case 'bow': neck[0] += 0.2 * env; spine[0] += 0.12 * env; break;
          case 'laugh': head[0] -= 0.09 * env; chest[0] += 0.02 * Math.sin(2 * Math.PI * 6 * s) * env; break;
          case 'think': head[2] += 0.12 * env; head[0] -= 0.04 * env; eyes[0] += 0.12 * env; eyes[1] += 0.1 * env; break;
          case 'shrug': head[2] -= 0.07 * env; chest[0] -= 0.04 * env; break;
          case 'wave': head[2] += 0.08 * Math.sin(2 * Math.PI * 1.2 * s) * env; break;
        }
      }
    }
    // split the head's motion over neck and head
    const bones: Pose['bones'] = {
      spine, chest,
      neck: [neck[0] + head[0] * 0.4, neck[1] + head[1] * 0.4, neck[2] + head[2] * 0.4],
      head: [head[0] * 0.6, head[1] * 0.6, head[2] * 0.6],
    };

    // --- emotions: the current one rises, the others fade; it lasts EMOTION_HOLD_S
    if (this.emotion && t > this.emotion.until) this.emotion = null;
    if (this.gesture?.name === 'laugh' && !this.emotion) this.emotion = { name: 'happy', until: t + 2 };
    for (const k of Object.keys(this.emotions) as (keyof Pose['emotions'])[]) {
      const target = this.emotion?.name === k ? 1 : 0;
      this.emotions[k] = follow(this.emotions[k], target, target > this.emotions[k] ? 0.25 : 0.6);
    }
    return { bones, eyes, blink: [blink, blink], emotions: { ...this.emotions } };
  }

  private cue(cue: Cue): void {
    if (cue.kind === 'gesture') {
      this.gesture = { name: cue.name, start: this.t };
    } else if (cue.name === 'neutral') {
      this.emotion = null;
    } else if (cue.name in this.emotions) {
      this.emotion = { name: cue.name as keyof Pose['emotions'], until: this.t + EMOTION_HOLD_S };
    }
  }
}
