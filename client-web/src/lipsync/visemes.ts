/**
 * Viseme timeline -> mouth weights (pure; unit-tested).
 *
 * The server sends `response.visemes` per sentence: contiguous `{t_ms, viseme, duration_ms,
 * weight}` events on the response's audio timeline. `VisemeTrack.targetsAt(ms)` gives the target
 * weight of each of the 15 visemes at a timeline position, with co-articulation: around each
 * boundary the two neighbours cross-fade (up to 45 ms each side, at most 40 % of either event),
 * so the mouth starts forming the next shape before the current one ends. `MouthSmoother` then
 * follows those targets with separate attack and release time constants, so nothing snaps even
 * at a low frame rate.
 */
import type { VisemeEvent } from '../protocol/generated';

export type Viseme = VisemeEvent['viseme'];

/** Protocol order (docs/visemes.md). */
export const VISEMES = [
  'sil', 'PP', 'FF', 'TH', 'DD', 'kk', 'CH', 'SS', 'nn', 'RR', 'aa', 'E', 'ih', 'oh', 'ou',
] as const satisfies readonly Viseme[];

export const VISEME_INDEX: Record<Viseme, number> = Object.fromEntries(
  VISEMES.map((v, i) => [v, i]),
) as Record<Viseme, number>;

/** Oculus / Ready Player Me morph target names (`viseme_I` for the protocol's `ih`, …). */
export const MORPH_NAME: Record<Viseme, string> = {
  sil: 'viseme_sil', PP: 'viseme_PP', FF: 'viseme_FF', TH: 'viseme_TH', DD: 'viseme_DD',
  kk: 'viseme_kk', CH: 'viseme_CH', SS: 'viseme_SS', nn: 'viseme_nn', RR: 'viseme_RR',
  aa: 'viseme_aa', E: 'viseme_E', ih: 'viseme_I', oh: 'viseme_O', ou: 'viseme_U',
};

/** How far each viseme opens the jaw (0 closed … 1 wide open): drives talk motion and
 * avatars that only have a jaw/mouth-open morph. */
export const OPENNESS: Record<Viseme, number> = {
  sil: 0, PP: 0, FF: 0.1, TH: 0.25, DD: 0.3, kk: 0.38, CH: 0.25, SS: 0.1, nn: 0.22, RR: 0.25,
  aa: 1, E: 0.5, ih: 0.3, oh: 0.7, ou: 0.3,
};

/** Oculus -> VRM 1.0 mouth expressions (docs/visemes.md, "Oculus → VRM"). */
export const VRM_MOUTH = ['aa', 'ih', 'ou', 'ee', 'oh'] as const;
export type VrmMouth = (typeof VRM_MOUTH)[number];
export const VISEME_TO_VRM: Record<Viseme, Partial<Record<VrmMouth, number>>> = {
  sil: {}, PP: {}, FF: { ih: 0.2, ou: 0.1 }, TH: { ee: 0.2, aa: 0.15 }, DD: { ih: 0.3, aa: 0.1 },
  kk: { aa: 0.3, ih: 0.2 }, CH: { ih: 0.3, ou: 0.4 }, SS: { ih: 0.5 }, nn: { ih: 0.3, aa: 0.1 },
  RR: { ou: 0.4, oh: 0.1 }, aa: { aa: 1 }, E: { ee: 0.8, aa: 0.2 }, ih: { ih: 1 }, oh: { oh: 1 },
  ou: { ou: 1 },
};

const BLEND_MAX_MS = 45;
const BLEND_SHARE = 0.4;

function smoothstep(x: number): number {
  const t = Math.min(1, Math.max(0, x));
  return t * t * (3 - 2 * t);
}

export class VisemeTrack {
  private events: VisemeEvent[] = [];

  get size(): number {
    return this.events.length;
  }

  /** End of the last event (ms), 0 when empty. */
  get endMs(): number {
    const last = this.events.at(-1);
    return last ? last.t_ms + last.duration_ms : 0;
  }

  /** Add one sentence's events (they may arrive in any sentence order). */
  add(events: readonly VisemeEvent[]): void {
    if (events.length === 0) return;
    this.events.push(...events);
    this.events.sort((a, b) => a.t_ms - b.t_ms);
  }

  clear(): void {
    this.events = [];
  }

  /** Index of the event active at `ms` (t_ms <= ms < t_ms + duration), or -1. */
  private find(ms: number): number {
    let lo = 0;
    let hi = this.events.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const e = this.events[mid]!;
      if (e.t_ms <= ms) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return -1;
    const e = this.events[found]!;
    return ms < e.t_ms + e.duration_ms ? found : -1;
  }

  /**
   * Target weight of every viseme (protocol order) at timeline position `ms`, written into
   * `out` (length 15). `sil` always gets 0: silence is the rest pose.
   */
  targetsAt(ms: number, out: Float32Array = new Float32Array(VISEMES.length)): Float32Array {
    out.fill(0);
    const i = this.find(ms);
    if (i < 0) return out;
    const cur = this.events[i]!;
    const end = cur.t_ms + cur.duration_ms;
    let wCur = 1;
    const next = this.events[i + 1];
    const prev = this.events[i - 1];
    const addW = (e: VisemeEvent, w: number) => {
      if (e.viseme !== 'sil') out[VISEME_INDEX[e.viseme]]! += w * e.weight;
    };
    if (next && Math.abs(next.t_ms - end) < 1) {
      const h = Math.min(BLEND_MAX_MS, cur.duration_ms * BLEND_SHARE, next.duration_ms * BLEND_SHARE);
      if (h > 0 && ms > end - h) {
        const a = 0.5 * smoothstep((ms - (end - h)) / h);
        addW(next, a);
        wCur -= a;
      }
    }
    if (prev && Math.abs(prev.t_ms + prev.duration_ms - cur.t_ms) < 1) {
      const h = Math.min(BLEND_MAX_MS, cur.duration_ms * BLEND_SHARE, prev.duration_ms * BLEND_SHARE);
      if (h > 0 && ms < cur.t_ms + h) {
        const a = 0.5 * (1 - smoothstep((ms - cur.t_ms) / h));
        addW(prev, a);
        wCur -= a;
      }
    }
    addW(cur, wCur);
    return out;
  }
}

/** Jaw openness (0..1) of a weight vector in protocol order. */
export function openness(weights: ArrayLike<number>): number {
  let o = 0;
  VISEMES.forEach((v, i) => {
    o += (weights[i] ?? 0) * OPENNESS[v];
  });
  return Math.min(1, o);
}

/** VRM mouth expression weights for a weight vector in protocol order. */
export function toVrm(weights: ArrayLike<number>): Record<VrmMouth, number> {
  const out: Record<VrmMouth, number> = { aa: 0, ih: 0, ou: 0, ee: 0, oh: 0 };
  VISEMES.forEach((v, i) => {
    const w = weights[i] ?? 0;
    if (w <= 0) return;
    for (const [k, f] of Object.entries(VISEME_TO_VRM[v]) as [VrmMouth, number][]) out[k] += w * f;
  });
  for (const k of VRM_MOUTH) out[k] = Math.min(1, out[k]);
  return out;
}

/**
 * First-order follower with separate time constants: a weight rises towards its target with
 * `attackS` and falls with `releaseS` (frame-rate independent: exp(-dt / tau)).
 */
export class MouthSmoother {
  readonly weights: Float32Array;

  constructor(size: number = VISEMES.length, readonly attackS = 0.035, readonly releaseS = 0.07) {
    this.weights = new Float32Array(size);
  }

  step(targets: ArrayLike<number>, dtS: number): Float32Array {
    const dt = Math.max(0, Math.min(dtS, 0.25));
    for (let i = 0; i < this.weights.length; i++) {
      const w = this.weights[i]!;
      const t = targets[i] ?? 0;
      const tau = t > w ? this.attackS : this.releaseS;
      const next = w + (t - w) * (1 - Math.exp(-dt / tau));
      this.weights[i] = Math.abs(next) < 1e-4 && t === 0 ? 0 : next;
    }
    return this.weights;
  }

  reset(): void {
    this.weights.fill(0);
  }
}
