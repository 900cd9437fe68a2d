import { describe, expect, it } from 'vitest';
import { fetchGpuStatus, requestMode, unwrap, vramSegments, isGpuStatus, type GpuStatus } from '../src/operator/api';

const vram = (services: Array<[string, string, number]>, used: number, total = 24576): GpuStatus['vram'] => ({
  used_mb: used, total_mb: total, usage_percent: (100 * used) / total, active_services: [],
  device: { kind: 'simulated', name: 'sim', peak_mb: used, headroom_mb: 512 },
  services: services.map(([name, state, mb]) => ({ name, state: state as 'resident', mb, detail: '', verbs: [], last_switch: null, last_switch_s: null })),
});

describe('the VRAM bar', () => {
  it('has a segment per service holding memory, then what nobody we know holds, then free', () => {
    const segs = vramSegments(vram([['vllm', 'asleep', 1170], ['sovits', 'resident', 4096], ['comfyui', 'resident', 12288], ['gen3d', 'stopped', 0]], 19554));
    expect(segs.map((s) => s.name)).toEqual(['vllm', 'sovits', 'comfyui', 'other', 'free']);
    expect(segs.find((s) => s.name === 'other')!.mb).toBe(19554 - 1170 - 4096 - 12288);
    expect(segs.find((s) => s.name === 'vllm')!.state).toBe('asleep');
    expect(segs.reduce((a, s) => a + s.percent, 0)).toBeCloseTo(100, 6);
    expect(segs.find((s) => s.name === 'comfyui')!.percent).toBeCloseTo((100 * 12288) / 24576, 6);
  });

  it('never draws more than the device, even from declared figures', () => {
    const segs = vramSegments(vram([['vllm', 'resident', 20000], ['gen3d', 'resident', 15000]], 24576));
    expect(segs.reduce((a, s) => a + s.mb, 0)).toBe(24576);
    expect(segs.find((s) => s.name === 'gen3d')!.mb).toBe(4576);
    expect(segs.at(-1)).toMatchObject({ name: 'free', mb: 0 });
  });
});

describe('the operator API', () => {
  const status = { mode: 'auto', plan: 'conversation', switching: null, ready: true, error: null,
                   vram: vram([], 0), leases: [], policy: { idle_window_s: 20, backoff: 1, quiet_s: null, last_live: null }, switches: [] };

  it('reads the envelope and refuses other shapes', () => {
    expect(unwrap(200, { success: true, data: status }, isGpuStatus)).toEqual({ ok: true, data: status });
    expect(unwrap(200, { success: true, data: { plan: 1 } }, isGpuStatus)).toMatchObject({ ok: false, error: { code: 'BAD_RESPONSE' } });
    expect(unwrap(507, { success: false, error: { code: 'VRAM_INSUFFICIENT', message: 'needs 27000 MB' } }, isGpuStatus))
      .toEqual({ ok: false, error: { code: 'VRAM_INSUFFICIENT', message: 'needs 27000 MB', status: 507 } });
  });

  it('asks for a mode with the token and reports the error code', async () => {
    const calls: Array<[string, RequestInit]> = [];
    const fake = (async (url: string, init: RequestInit) => {
      calls.push([url, init]);
      return new Response(JSON.stringify({ success: false, error: { code: 'VRAM_INSUFFICIENT', message: 'no' } }), { status: 507 });
    }) as unknown as typeof fetch;
    const r = await requestMode('gen3d', 'tok', fake);
    expect(r).toEqual({ ok: false, error: { code: 'VRAM_INSUFFICIENT', message: 'no', status: 507 } });
    const [url, init] = calls[0]!;
    expect(url).toBe('/api/system/mode');
    expect(init.method).toBe('POST');
    expect(JSON.parse(String(init.body))).toEqual({ mode: 'gen3d' });
    expect((init.headers as Record<string, string>).authorization).toBe('Bearer tok');
  });

  it('says OFFLINE when the server cannot be reached', async () => {
    const down = (async () => { throw new TypeError('Failed to fetch'); }) as unknown as typeof fetch;
    expect(await fetchGpuStatus(null, down)).toMatchObject({ ok: false, error: { code: 'OFFLINE', status: 0 } });
  });
});
