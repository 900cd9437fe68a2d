import { describe, expect, it } from 'vitest';
import type { VisemeEvent } from '../src/protocol/generated';
import {
  MORPH_NAME, MouthSmoother, VISEMES, VISEME_INDEX, VisemeTrack, openness, toVrm,
} from '../src/lipsync/visemes';

const ev = (t_ms: number, viseme: VisemeEvent['viseme'], duration_ms: number, weight = 1): VisemeEvent =>
  ({ t_ms, viseme, duration_ms, weight });

function track(): VisemeTrack {
  const t = new VisemeTrack();
  // one sentence: sil 0-100, aa 100-300, PP 300-400 (w .8), oh 400-600, then silence
  t.add([ev(0, 'sil', 100, 0), ev(100, 'aa', 200), ev(300, 'PP', 100, 0.8), ev(400, 'oh', 200)]);
  return t;
}

const w = (out: Float32Array, v: VisemeEvent['viseme']) => out[VISEME_INDEX[v]]!;

describe('VisemeTrack.targetsAt', () => {
  it('is the event itself in the middle of a long event', () => {
    const out = track().targetsAt(200);
    expect(w(out, 'aa')).toBeCloseTo(1);
    expect(out.reduce((a, b) => a + b, 0)).toBeCloseTo(1);
  });

  it('scales by the event weight', () => {
    expect(w(track().targetsAt(350), 'PP')).toBeCloseTo(0.8);
  });

  it('cross-fades at a boundary (co-articulation), continuously', () => {
    const t = track();
    const before = t.targetsAt(299.9);
    const after = t.targetsAt(300);
    expect(w(before, 'aa')).toBeCloseTo(0.5, 2);
    expect(w(before, 'PP')).toBeCloseTo(0.4, 2);
    expect(w(after, 'aa')).toBeCloseTo(0.5, 2);
    expect(w(after, 'PP')).toBeCloseTo(0.4, 2);
    // the next shape starts forming before the boundary
    const early = t.targetsAt(280);
    expect(w(early, 'PP')).toBeGreaterThan(0);
    expect(w(early, 'aa')).toBeGreaterThan(w(early, 'PP') / 0.8);
  });

  it('blends no further than 40 % into a short event', () => {
    const t = new VisemeTrack();
    t.add([ev(0, 'aa', 300), ev(300, 'kk', 50), ev(350, 'oh', 300)]);
    // middle of the 50 ms kk: both blends end at 20 ms from its edges -> pure kk at 325
    expect(w(t.targetsAt(325), 'kk')).toBeCloseTo(1);
  });

  it('gives the rest pose for silence, before the start and after the end', () => {
    const t = track();
    expect(t.targetsAt(50).every((x) => x === 0)).toBe(true);
    expect(t.targetsAt(-10).every((x) => x === 0)).toBe(true);
    expect(t.targetsAt(700).every((x) => x === 0)).toBe(true);
    expect(t.endMs).toBe(600);
  });

  it('accepts sentences out of order', () => {
    const t = new VisemeTrack();
    t.add([ev(1000, 'E', 100)]);
    t.add([ev(0, 'ih', 100)]);
    expect(w(t.targetsAt(50), 'ih')).toBeCloseTo(1);
    expect(w(t.targetsAt(1050), 'E')).toBeCloseTo(1);
  });
});

describe('MouthSmoother', () => {
  it('rises towards the target without overshoot and releases to exactly zero', () => {
    const s = new MouthSmoother(1);
    const target = [1];
    let prev = 0;
    for (let i = 0; i < 20; i++) {
      const v = s.step(target, 1 / 60)[0]!;
      expect(v).toBeGreaterThan(prev);
      expect(v).toBeLessThanOrEqual(1);
      prev = v;
    }
    expect(prev).toBeGreaterThan(0.95); // ~330 ms at a 35 ms attack
    for (let i = 0; i < 120; i++) s.step([0], 1 / 60);
    expect(s.weights[0]).toBe(0);
  });

  it('does not snap: one frame moves only part of the way', () => {
    const s = new MouthSmoother(1);
    expect(s.step([1], 1 / 60)[0]).toBeLessThan(0.5);
  });

  it('is frame-rate independent', () => {
    const a = new MouthSmoother(1);
    const b = new MouthSmoother(1);
    for (let i = 0; i < 6; i++) a.step([1], 1 / 60);
    for (let i = 0; i < 2; i++) b.step([1], 1 / 20);
    expect(a.weights[0]).toBeCloseTo(b.weights[0]!, 5);
  });

  it('releases more slowly than it attacks', () => {
    const up = new MouthSmoother(1);
    up.step([1], 0.03);
    const down = new MouthSmoother(1);
    down.weights[0] = 1;
    down.step([0], 0.03);
    expect(up.weights[0]!).toBeGreaterThan(1 - down.weights[0]!);
  });
});

describe('mappings', () => {
  it('names the Oculus morph targets', () => {
    expect(VISEMES.map((v) => MORPH_NAME[v])).toEqual([
      'viseme_sil', 'viseme_PP', 'viseme_FF', 'viseme_TH', 'viseme_DD', 'viseme_kk', 'viseme_CH',
      'viseme_SS', 'viseme_nn', 'viseme_RR', 'viseme_aa', 'viseme_E', 'viseme_I', 'viseme_O', 'viseme_U']);
  });

  it('maps to VRM mouth expressions', () => {
    const weights = new Float32Array(15);
    weights[VISEME_INDEX.E] = 1;
    expect(toVrm(weights)).toEqual({ aa: expect.closeTo(0.2), ih: 0, ou: 0, ee: expect.closeTo(0.8), oh: 0 });
    weights.fill(0);
    weights[VISEME_INDEX.aa] = 0.5;
    weights[VISEME_INDEX.oh] = 0.5;
    expect(toVrm(weights)).toEqual({ aa: 0.5, ih: 0, ou: 0, ee: 0, oh: 0.5 });
  });

  it('measures jaw openness', () => {
    const weights = new Float32Array(15);
    expect(openness(weights)).toBe(0);
    weights[VISEME_INDEX.aa] = 1;
    expect(openness(weights)).toBe(1);
    weights.fill(0);
    weights[VISEME_INDEX.PP] = 1;
    expect(openness(weights)).toBe(0);
  });
});
