import { describe, expect, it } from 'vitest';
import { Downsampler, FRAME_SAMPLES, Framer, floatToPcm16, levelOf } from '../src/audio/pcm';

function sine(freq: number, rate: number, seconds: number, amp = 0.5): Float32Array {
  return Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / rate));
}

/** Amplitude of `freq` in `x` (single-bin DFT). */
function amplitudeAt(x: Float32Array, freq: number, rate: number): number {
  let re = 0;
  let im = 0;
  for (let i = 0; i < x.length; i++) {
    re += x[i]! * Math.cos((2 * Math.PI * freq * i) / rate);
    im -= x[i]! * Math.sin((2 * Math.PI * freq * i) / rate);
  }
  return (2 * Math.hypot(re, im)) / x.length;
}

function runBlocks(d: Downsampler, x: Float32Array, block = 128): Float32Array {
  const parts: number[] = [];
  for (let i = 0; i < x.length; i += block) parts.push(...d.process(x.subarray(i, i + block)));
  return Float32Array.from(parts);
}

describe('Downsampler', () => {
  for (const rate of [48000, 44100, 16000]) {
    it(`${rate} Hz -> 16 kHz keeps speech frequencies and the length`, () => {
      const out = runBlocks(new Downsampler(rate), sine(440, rate, 1));
      // the filter holds back ~10 output samples (its right half) until more input comes
      expect(16000 - out.length).toBeGreaterThanOrEqual(0);
      expect(16000 - out.length).toBeLessThanOrEqual(12);
      const body = out.subarray(100, out.length - 100);
      expect(amplitudeAt(body, 440, 16000)).toBeGreaterThan(0.45);
      expect(amplitudeAt(body, 440, 16000)).toBeLessThan(0.52);
    });
  }

  for (const [rate, freq] of [[48000, 10000], [48000, 12000], [48000, 20000], [44100, 11000]] as const) {
    it(`removes ${freq} Hz at ${rate} Hz instead of folding it into the speech band`, () => {
      const out = runBlocks(new Downsampler(rate), sine(freq, rate, 0.5));
      const body = out.subarray(100, out.length - 100);
      const rms = Math.sqrt(body.reduce((a, v) => a + v * v, 0) / body.length);
      expect(rms).toBeLessThan((0.5 / Math.SQRT2) * 0.03); // > 30 dB down
    });
  }

  it('passes 3 kHz (speech) almost unchanged', () => {
    const out = runBlocks(new Downsampler(48000), sine(3000, 48000, 0.5));
    const a = amplitudeAt(out.subarray(100, out.length - 100), 3000, 16000);
    expect(a).toBeGreaterThan(0.47);
    expect(a).toBeLessThan(0.53);
  });

  it('is seamless across blocks (same result as one call)', () => {
    const x = sine(300, 48000, 0.2);
    const whole = new Downsampler(48000).process(x);
    const blocks = runBlocks(new Downsampler(48000), x, 37);
    const n = Math.min(whole.length, blocks.length);
    for (let i = 0; i < n; i++) expect(blocks[i]).toBeCloseTo(whole[i]!, 6);
  });

  it('refuses to upsample', () => {
    expect(() => new Downsampler(8000)).toThrow();
  });
});

describe('Framer', () => {
  it('cuts exact 20 ms frames (320 samples) and carries the rest', () => {
    const f = new Framer();
    expect(FRAME_SAMPLES).toBe(320);
    expect(f.push(new Int16Array(300))).toHaveLength(0);
    const frames = f.push(Int16Array.from({ length: 700 }, (_, i) => i));
    expect(frames).toHaveLength(3);
    expect(frames.every((fr) => fr.length === 320 && fr.byteLength === 640)).toBe(true);
    expect(frames[1]![0]).toBe(20); // frame 0 = 300 zeros + values 0..19
    expect(f.push(new Int16Array(0))).toHaveLength(0);
    expect(f.push(new Int16Array(320 - 40))).toHaveLength(1); // 40 were left over
  });
});

describe('sample conversion and level', () => {
  it('converts and clips float to PCM16', () => {
    expect(Array.from(floatToPcm16(Float32Array.from([0, 1, -1, 2, -2, 0.5])))).toEqual([0, 32767, -32768, 32767, -32768, 16384]);
  });

  it('maps RMS to a 0..1 dB meter', () => {
    expect(levelOf(new Float32Array(100))).toBe(0);
    expect(levelOf(Float32Array.from({ length: 100 }, () => 1))).toBe(1);
    const mid = levelOf(sine(200, 16000, 0.1, 0.03));
    expect(mid).toBeGreaterThan(0.3);
    expect(mid).toBeLessThan(0.7);
  });
});
