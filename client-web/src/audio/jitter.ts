/**
 * Jitter buffer and scheduling on the audio clock (pure: no Web Audio here, so it is unit-tested).
 *
 * Each response has its own timeline: sample 0 is its first audio sample, and a chunk's
 * `sample_offset` says where it lies. The first chunk is scheduled `lead` seconds ahead of the
 * audio clock (the jitter buffer); every later chunk goes right after the samples before it, at
 * `start + sample_offset / rate`. If a chunk arrives too late for that (an underrun), it is
 * scheduled `lead` ahead again — a short gap — and the lead grows for the rest of the session.
 *
 * `positionAt(t)` maps an audio-clock time back to the response timeline through the segments
 * actually scheduled, so visemes and animation events (whose `t_ms` are on that timeline) follow
 * what is audible, gaps included.
 */

export interface Segment {
  /** AudioContext time at which the segment starts playing. */
  ctxStart: number;
  /** First sample on the response timeline. */
  sampleOffset: number;
  samples: number;
}

export interface JitterOptions {
  /** Initial lead of the first chunk over the audio clock (s); the lead never shrinks below. */
  leadS: number;
  /** The lead never grows beyond this (s). */
  maxLeadS: number;
  /** A chunk whose start would be closer than this to "now" counts as late (s). */
  safetyS: number;
}

export const DEFAULT_JITTER: JitterOptions = { leadS: 0.12, maxLeadS: 0.5, safetyS: 0.015 };

export class ResponseTimeline {
  readonly segments: Segment[] = [];
  underruns = 0;

  constructor(readonly responseId: number, readonly rate: number) {}

  /** End of the scheduled audio on the audio clock (s), or null before the first chunk. */
  get endTime(): number | null {
    const last = this.segments.at(-1);
    return last ? last.ctxStart + last.samples / this.rate : null;
  }

  /** Samples scheduled so far (the response timeline's extent). */
  get endSample(): number {
    const last = this.segments.at(-1);
    return last ? last.sampleOffset + last.samples : 0;
  }

  /**
   * Where a chunk starting at `sampleOffset` (with `samples` samples) plays on the audio clock,
   * given the clock's current time `now`, the lead for a fresh start and the earliest time
   * `notBefore` (the end of audio already queued). Records the segment and returns its start,
   * or null for a chunk entirely before what was already scheduled (a duplicate).
   */
  place(sampleOffset: number, samples: number, now: number, leadS: number, safetyS: number,
        notBefore = 0): { start: number; late: boolean } | null {
    const last = this.segments.at(-1);
    let start: number;
    let late = false;
    if (!last) {
      start = Math.max(now + leadS, notBefore);
    } else {
      const lastEnd = last.sampleOffset + last.samples;
      if (sampleOffset + samples <= lastEnd) return null;
      // contiguous with the previous segment (a jump in sample_offset keeps its silence)
      start = last.ctxStart + (sampleOffset - last.sampleOffset) / this.rate;
      if (start < now + safetyS) {
        late = true;
        this.underruns += 1;
        start = now + leadS;
      }
    }
    this.segments.push({ ctxStart: start, sampleOffset, samples });
    return { start, late };
  }

  /** Position on the response timeline (samples) audible at audio-clock time `t`. */
  positionAt(t: number): number {
    let pos = 0;
    for (const s of this.segments) {
      if (t < s.ctxStart) break;
      pos = s.sampleOffset + Math.min(s.samples, (t - s.ctxStart) * this.rate);
    }
    return pos;
  }

  /** Whether audio of this response is still to be heard at time `t`. */
  playingAt(t: number): boolean {
    const end = this.endTime;
    return end !== null && t < end && t >= (this.segments[0]?.ctxStart ?? Infinity);
  }
}

/**
 * The session's jitter policy: the lead for fresh starts adapts to underruns (grows by half plus
 * 20 ms each time, up to maxLeadS) and relaxes slowly (towards leadS) after responses that
 * played cleanly.
 */
export class JitterBuffer {
  private lead: number;

  constructor(readonly options: JitterOptions = DEFAULT_JITTER) {
    this.lead = options.leadS;
  }

  get leadS(): number {
    return this.lead;
  }

  /** Schedule a chunk on `timeline`; adapts the lead when it was late. */
  schedule(timeline: ResponseTimeline, sampleOffset: number, samples: number, now: number,
           notBefore = 0): { start: number; late: boolean } | null {
    const placed = timeline.place(sampleOffset, samples, now, this.lead, this.options.safetyS,
                                  notBefore);
    if (placed?.late) this.lead = Math.min(this.options.maxLeadS, this.lead * 1.5 + 0.02);
    return placed;
  }

  /** A response finished; if it had no underrun, shrink the lead a little. */
  finished(timeline: ResponseTimeline): void {
    if (timeline.underruns === 0) this.lead = Math.max(this.options.leadS, this.lead * 0.9);
  }
}
