import { describe, expect, it } from 'vitest';
import { DEFAULT_JITTER, JitterBuffer, ResponseTimeline } from '../src/audio/jitter';

const RATE = 24000;
const CHUNK = 2400; // 100 ms

describe('ResponseTimeline scheduling', () => {
  it('starts the first chunk one lead ahead and joins the next ones sample-exactly', () => {
    const tl = new ResponseTimeline(1, RATE);
    const a = tl.place(0, CHUNK, 10.0, 0.12, 0.015)!;
    expect(a).toEqual({ start: 10.12, late: false });
    // arrives early (server sends faster than real time): goes right after the first
    const b = tl.place(CHUNK, CHUNK, 10.01, 0.12, 0.015)!;
    expect(b.start).toBeCloseTo(10.22, 9);
    const c = tl.place(2 * CHUNK, CHUNK, 10.02, 0.12, 0.015)!;
    expect(c.start).toBeCloseTo(10.32, 9);
    expect(tl.endTime).toBeCloseTo(10.42, 9);
    expect(tl.endSample).toBe(3 * CHUNK);
  });

  it('never starts before audio already queued (notBefore)', () => {
    const tl = new ResponseTimeline(1, RATE);
    expect(tl.place(0, CHUNK, 5, 0.1, 0.015, 7.5)!.start).toBe(7.5);
  });

  it('keeps a jump in sample_offset as silence', () => {
    const tl = new ResponseTimeline(1, RATE);
    tl.place(0, CHUNK, 0, 0.1, 0.015);
    const b = tl.place(3 * CHUNK, CHUNK, 0.01, 0.1, 0.015)!;
    expect(b.start).toBeCloseTo(0.1 + 0.3, 9);
  });

  it('re-buffers a late chunk (underrun) instead of playing it in the past', () => {
    const tl = new ResponseTimeline(1, RATE);
    tl.place(0, CHUNK, 0, 0.1, 0.015); // plays 0.1 .. 0.2
    const late = tl.place(CHUNK, CHUNK, 0.25, 0.1, 0.015)!;
    expect(late.late).toBe(true);
    expect(late.start).toBeCloseTo(0.35, 9);
    expect(tl.underruns).toBe(1);
  });

  it('drops duplicates of what is already scheduled', () => {
    const tl = new ResponseTimeline(1, RATE);
    tl.place(0, CHUNK, 0, 0.1, 0.015);
    expect(tl.place(0, CHUNK, 0.01, 0.1, 0.015)).toBeNull();
    expect(tl.segments.length).toBe(1);
  });

  it('maps the audio clock back to the response timeline, gaps included', () => {
    const tl = new ResponseTimeline(1, RATE);
    tl.place(0, CHUNK, 0, 0.1, 0.015); // 0.1 .. 0.2 -> samples 0 .. 2400
    tl.place(CHUNK, CHUNK, 0.25, 0.1, 0.015); // late: 0.35 .. 0.45 -> 2400 .. 4800
    expect(tl.positionAt(0.05)).toBe(0);
    expect(tl.positionAt(0.15)).toBeCloseTo(1200, 6);
    expect(tl.positionAt(0.3)).toBe(2400); // in the gap: holds at the end of the first chunk
    expect(tl.positionAt(0.4)).toBeCloseTo(3600, 6);
    expect(tl.positionAt(9)).toBe(4800);
    expect(tl.playingAt(0.05)).toBe(false);
    expect(tl.playingAt(0.4)).toBe(true);
    expect(tl.playingAt(0.5)).toBe(false);
  });
});

describe('JitterBuffer (adaptive lead)', () => {
  it('grows the lead after an underrun, up to the maximum, and relaxes after clean responses', () => {
    const jb = new JitterBuffer();
    expect(jb.leadS).toBe(DEFAULT_JITTER.leadS);
    for (let i = 0; i < 10; i++) {
      const tl = new ResponseTimeline(i, RATE);
      jb.schedule(tl, 0, CHUNK, 0);
      jb.schedule(tl, CHUNK, CHUNK, 5); // far too late
    }
    expect(jb.leadS).toBe(DEFAULT_JITTER.maxLeadS);
    const clean = new ResponseTimeline(99, RATE);
    jb.schedule(clean, 0, CHUNK, 0);
    jb.finished(clean);
    expect(jb.leadS).toBeLessThan(DEFAULT_JITTER.maxLeadS);
    for (let i = 0; i < 50; i++) jb.finished(clean);
    expect(jb.leadS).toBe(DEFAULT_JITTER.leadS); // never below the initial lead
  });
});
