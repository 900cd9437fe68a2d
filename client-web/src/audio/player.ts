/**
 * Plays the server's audio frames through an AudioContext, scheduled by `sample_offset` on the
 * audio clock (see ./jitter.ts). The same clock answers "where in the response are we", which is
 * what drives the visemes, animation and `playback.mark`.
 */
import { pcm16ToFloat32, type AudioFrame } from '../protocol/codec';
import { JitterBuffer, ResponseTimeline } from './jitter';

export interface PlayerStats {
  /** Samples handed to the AudioContext (scheduled AudioBufferSourceNodes). */
  samplesScheduled: number;
  /** Samples whose source node played to its end (not stopped by a flush). */
  samplesPlayed: number;
  chunks: number;
  underruns: number;
  flushes: number;
  /** Highest absolute sample value seen at the output (AnalyserNode), 0..1. */
  outputPeak: number;
  /** The last flush that cut audio: where playback was, and how much queued audio it dropped. */
  lastFlush: { responseId: number; positionSamples: number; droppedSamples: number } | null;
}

export class AudioPlayer {
  private ctx: AudioContext | null = null;
  private output: GainNode | null = null;
  private analyser: AnalyserNode | null = null;
  private probe: Float32Array<ArrayBuffer> | null = null;
  private readonly jitter = new JitterBuffer();
  private timeline: ResponseTimeline | null = null;
  /** Queued or playing source nodes; `stopped` marks those a flush cut short. */
  private sources = new Map<AudioBufferSourceNode, { stopped: boolean }>();
  private rate = 24000;
  readonly stats: PlayerStats = {
    samplesScheduled: 0, samplesPlayed: 0, chunks: 0, underruns: 0, flushes: 0, outputPeak: 0,
    lastFlush: null,
  };

  /** The audio clock (s); 0 before the context exists. */
  get now(): number {
    return this.ctx?.currentTime ?? 0;
  }

  get contextState(): AudioContextState | 'none' {
    return this.ctx?.state ?? 'none';
  }

  get leadS(): number {
    return this.jitter.leadS;
  }

  /** Use the server's output rate; the context runs at that rate where the browser allows it,
   * so consecutive chunks join sample-exactly. */
  setRate(rate: number): void {
    if (rate === this.rate && this.ctx) return;
    this.rate = rate;
    if (this.ctx && this.ctx.sampleRate !== rate) {
      this.flush();
      void this.ctx.close();
      this.ctx = null;
    }
  }

  private context(): AudioContext {
    if (this.ctx) return this.ctx;
    let ctx: AudioContext;
    try {
      ctx = new AudioContext({ sampleRate: this.rate, latencyHint: 'interactive' });
    } catch {
      ctx = new AudioContext({ latencyHint: 'interactive' });
    }
    this.output = ctx.createGain();
    this.analyser = ctx.createAnalyser();
    this.analyser.fftSize = 1024;
    this.probe = new Float32Array(this.analyser.fftSize);
    this.output.connect(this.analyser);
    this.analyser.connect(ctx.destination);
    this.ctx = ctx;
    return ctx;
  }

  /** Create/resume the context (call from a user gesture: browsers start it suspended). */
  async resume(): Promise<void> {
    const ctx = this.context();
    if (ctx.state === 'suspended') await ctx.resume();
  }

  /** The response whose audio is (or will be) heard. */
  get responseId(): number | null {
    return this.timeline?.responseId ?? null;
  }

  /** Queue a frame. Frames of a response other than the current one start it (dropping the old
   * one's queued audio); frames of a flushed response are ignored (`ignore`). */
  push(frame: AudioFrame, ignore: ReadonlySet<number>): void {
    if (ignore.has(frame.responseId) || frame.samples.length === 0) return;
    const ctx = this.context();
    if (this.timeline?.responseId !== frame.responseId) {
      this.flush();
      this.timeline = new ResponseTimeline(frame.responseId, this.rate);
    }
    const placed = this.jitter.schedule(this.timeline, frame.sampleOffset, frame.samples.length,
                                        ctx.currentTime);
    if (!placed) return;
    if (placed.late) this.stats.underruns += 1;
    const buffer = ctx.createBuffer(1, frame.samples.length, this.rate);
    buffer.copyToChannel(pcm16ToFloat32(frame.samples), 0);
    const src = ctx.createBufferSource();
    src.buffer = buffer;
    src.connect(this.output!);
    const n = frame.samples.length;
    const entry = { stopped: false };
    src.onended = () => {
      this.sources.delete(src);
      if (!entry.stopped) this.stats.samplesPlayed += n;
    };
    this.sources.set(src, entry);
    src.start(placed.start);
    this.stats.samplesScheduled += n;
    this.stats.chunks += 1;
  }

  /** Stop all queued and playing audio at once (barge-in, cancel, a newer response). */
  flush(): void {
    if (this.sources.size > 0 && this.timeline && this.ctx) {
      this.stats.flushes += 1;
      const position = Math.round(this.timeline.positionAt(this.ctx.currentTime));
      this.stats.lastFlush = {
        responseId: this.timeline.responseId,
        positionSamples: position,
        droppedSamples: this.timeline.endSample - position,
      };
    }
    for (const [src, entry] of this.sources) {
      entry.stopped = true;
      try {
        src.stop();
      } catch {
        /* not started yet in some browsers */
      }
      src.disconnect();
    }
    this.sources.clear();
    if (this.timeline) this.jitter.finished(this.timeline);
    this.timeline = null;
  }

  /** Position (ms) on the timeline of `responseId` that is audible now; null if that response
   * is not the one playing or has not started. */
  positionMs(responseId: number | null): number | null {
    const tl = this.timeline;
    if (!tl || responseId === null || tl.responseId !== responseId || !this.ctx) return null;
    const first = tl.segments[0];
    if (!first || this.ctx.currentTime < first.ctxStart) return null;
    return (tl.positionAt(this.ctx.currentTime) / this.rate) * 1000;
  }

  /** Whether audio is audible now or queued to be. */
  get active(): boolean {
    const tl = this.timeline;
    return !!tl && !!this.ctx && (tl.endTime ?? 0) > this.ctx.currentTime;
  }

  /** When the current response's first sample plays, in performance.now() milliseconds. */
  firstSampleWallMs(): number | null {
    const first = this.timeline?.segments[0];
    if (!first || !this.ctx) return null;
    return performance.now() + (first.ctxStart - this.ctx.currentTime) * 1000;
  }

  /** Samples of the current response scheduled so far, in ms. */
  scheduledMs(): number {
    return this.timeline ? (this.timeline.endSample / this.rate) * 1000 : 0;
  }

  /** Sample the output level (called every animation frame); returns the peak 0..1. */
  measureOutput(): number {
    if (!this.analyser || !this.probe) return 0;
    this.analyser.getFloatTimeDomainData(this.probe);
    let peak = 0;
    for (let i = 0; i < this.probe.length; i++) peak = Math.max(peak, Math.abs(this.probe[i]!));
    if (peak > this.stats.outputPeak) this.stats.outputPeak = peak;
    return peak;
  }
}
