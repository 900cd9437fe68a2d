/**
 * Microphone signal path (pure; runs inside the AudioWorklet and in unit tests):
 * float samples at the capture rate -> 16 kHz -> PCM16LE frames of exactly 20 ms (320 samples,
 * 640 bytes) as the server expects (docs/protocol.md, "Microphone frames").
 */

export const MIC_RATE = 16000;
export const FRAME_MS = 20;
export const FRAME_SAMPLES = (MIC_RATE * FRAME_MS) / 1000;

/**
 * Streaming resampler to `outRate` (48 or 44.1 kHz microphones -> 16 kHz): a windowed-sinc
 * low-pass (Blackman, cutoff at 45 % of the output rate, ~10 output periods each side) evaluated
 * at each output position, so speech keeps its spectrum below 7.2 kHz and what lies above does
 * not fold back into it. The kernel is tabulated for 128 sub-sample phases; state carries across
 * calls, so block boundaries leave no seams.
 */
export class Downsampler {
  private static readonly PHASES = 128;
  private readonly step: number; // input samples per output sample
  private readonly half: number; // kernel half-width, input samples
  private readonly table: Float32Array[]; // per phase: 2 * half + 1 taps, normalised to sum 1
  private pos: number; // position of the next output sample, in `history` coordinates
  private history: Float32Array;

  constructor(readonly inRate: number, readonly outRate: number = MIC_RATE) {
    if (inRate < outRate) throw new Error(`cannot downsample ${inRate} Hz to ${outRate} Hz`);
    this.step = inRate / outRate;
    this.half = Math.ceil(10 * this.step);
    const cutoff = (0.45 * outRate) / inRate; // cycles per input sample
    this.table = [];
    for (let ph = 0; ph < Downsampler.PHASES; ph++) {
      const frac = ph / Downsampler.PHASES;
      const taps = new Float32Array(2 * this.half + 1);
      let sum = 0;
      for (let k = -this.half; k <= this.half; k++) {
        const t = k - frac; // distance of input sample (i + k) from the output position (i + frac)
        const x = 2 * cutoff * t;
        const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
        const w = Math.abs(t) >= this.half + 1 ? 0
          : 0.42 + 0.5 * Math.cos((Math.PI * t) / (this.half + 1)) + 0.08 * Math.cos((2 * Math.PI * t) / (this.half + 1));
        const h = sinc * w;
        taps[k + this.half] = h;
        sum += h;
      }
      for (let i = 0; i < taps.length; i++) taps[i]! /= sum;
      this.table.push(taps);
    }
    // start with silence before the first sample, so the first output has full support
    this.history = new Float32Array(this.half);
    this.pos = this.half;
  }

  process(input: Float32Array): Float32Array {
    const buf = new Float32Array(this.history.length + input.length);
    buf.set(this.history);
    buf.set(input, this.history.length);
    const out: number[] = [];
    while (this.pos + this.half + 1 < buf.length) {
      const base = Math.floor(this.pos);
      const taps = this.table[Math.min(Downsampler.PHASES - 1,
                                       Math.round((this.pos - base) * Downsampler.PHASES))]!;
      let acc = 0;
      const start = base - this.half;
      for (let k = 0; k < taps.length; k++) acc += buf[start + k]! * taps[k]!;
      out.push(acc);
      this.pos += this.step;
    }
    const keepFrom = Math.max(0, Math.floor(this.pos) - this.half - 1);
    this.history = buf.slice(keepFrom);
    this.pos -= keepFrom;
    return Float32Array.from(out);
  }
}

/** float [-1, 1] -> PCM16 (clipped). */
export function floatToPcm16(x: Float32Array): Int16Array<ArrayBuffer> {
  const out = new Int16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = Math.max(-1, Math.min(1, x[i]!));
    out[i] = v < 0 ? Math.round(v * 32768) : Math.round(v * 32767);
  }
  return out;
}

/** Cuts a stream of 16 kHz samples into fixed frames of `size` PCM16 samples. */
export class Framer {
  private pending = new Int16Array(0);

  constructor(readonly size: number = FRAME_SAMPLES) {}

  push(samples: Int16Array): Int16Array<ArrayBuffer>[] {
    const buf = new Int16Array(this.pending.length + samples.length);
    buf.set(this.pending);
    buf.set(samples, this.pending.length);
    const frames: Int16Array<ArrayBuffer>[] = [];
    let at = 0;
    for (; at + this.size <= buf.length; at += this.size) frames.push(buf.slice(at, at + this.size));
    this.pending = buf.slice(at);
    return frames;
  }

  reset(): void {
    this.pending = new Int16Array(0);
  }
}

/** RMS level of float samples mapped to 0..1 on a dB scale (-60 dB -> 0, 0 dB -> 1). */
export function levelOf(x: Float32Array): number {
  if (x.length === 0) return 0;
  let acc = 0;
  for (let i = 0; i < x.length; i++) acc += x[i]! * x[i]!;
  const rms = Math.sqrt(acc / x.length);
  const db = 20 * Math.log10(Math.max(rms, 1e-6));
  return Math.max(0, Math.min(1, (db + 60) / 60));
}
