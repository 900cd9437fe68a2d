/**
 * What the avatar performs for the response being heard: its visemes and animation events, all
 * on the response's audio timeline, sampled at the position the audio clock says is audible.
 * Pure (the clock is passed in), so the 3D code only reads `sample()` each frame.
 */
import type { Animation, VisemeEvent } from '../protocol/generated';
import { VISEMES, VisemeTrack } from './visemes';

export type Emotion = 'happy' | 'sad' | 'angry' | 'surprised' | 'relaxed' | 'neutral';
export const EMOTIONS: readonly Emotion[] = ['happy', 'sad', 'angry', 'surprised', 'relaxed', 'neutral'];

export interface Cue {
  kind: 'emotion' | 'gesture';
  name: string;
}

export interface PerformanceFrame {
  /** Target viseme weights (protocol order), before smoothing. */
  visemes: Float32Array;
  /** Between talk_start and talk_end on the audio clock. */
  talking: boolean;
  /** Emotion/gesture events whose time came since the last sample. */
  cues: Cue[];
  /** Position on the response timeline (ms), or null when nothing is playing. */
  positionMs: number | null;
}

type AnimEvent = Pick<Animation, 't_ms' | 'action'> & { name?: string | null };

export class Performance {
  responseId: number | null = null;
  private track = new VisemeTrack();
  private anims: AnimEvent[] = [];
  private nextAnim = 0;
  private talkStart: number | null = null;
  private talkEnd: number | null = null;
  private readonly targets = new Float32Array(VISEMES.length);

  /** Start following a new response (drops whatever the previous one still had queued). */
  begin(responseId: number): void {
    this.flush();
    this.responseId = responseId;
  }

  /** Stop now: no more visemes or talk motion (barge-in, cancel, stop button). */
  flush(): void {
    this.responseId = null;
    this.track.clear();
    this.anims = [];
    this.nextAnim = 0;
    this.talkStart = null;
    this.talkEnd = null;
  }

  addVisemes(responseId: number, events: readonly VisemeEvent[]): void {
    if (responseId === this.responseId) this.track.add(events);
  }

  addAnimation(msg: Pick<Animation, 'response_id' | 't_ms' | 'action'> & { name?: string | null }): void {
    if (msg.response_id !== this.responseId) return;
    if (msg.action === 'talk_start') this.talkStart = msg.t_ms;
    else if (msg.action === 'talk_end') this.talkEnd = msg.t_ms;
    else {
      // keep them sorted by time; most arrive in order
      const at = this.anims.findIndex((a, i) => i >= this.nextAnim && a.t_ms > msg.t_ms);
      const ev: AnimEvent = { t_ms: msg.t_ms, action: msg.action, name: msg.name ?? null };
      if (at < 0) this.anims.push(ev);
      else this.anims.splice(at, 0, ev);
    }
  }

  get visemeCount(): number {
    return this.track.size;
  }

  /** Sample at `positionMs` (null: the response's audio is not playing). */
  sample(positionMs: number | null): PerformanceFrame {
    const cues: Cue[] = [];
    if (positionMs === null || this.responseId === null) {
      this.targets.fill(0);
      return { visemes: this.targets, talking: false, cues, positionMs: null };
    }
    this.track.targetsAt(positionMs, this.targets);
    while (this.nextAnim < this.anims.length && this.anims[this.nextAnim]!.t_ms <= positionMs) {
      const a = this.anims[this.nextAnim++]!;
      if ((a.action === 'emotion' || a.action === 'gesture') && a.name) {
        cues.push({ kind: a.action, name: a.name });
      }
    }
    const talking = this.talkStart !== null && positionMs >= this.talkStart
      && (this.talkEnd === null || positionMs < this.talkEnd);
    return { visemes: this.targets, talking, cues, positionMs };
  }
}
