/**
 * The operator view's data: GET /api/system/gpu (the GPU host's plan, services, leases, policy)
 * and POST /api/system/mode (the seeds' VRAM modes, plus `auto`). Pure functions here; the
 * view is ./Operator.tsx. Shapes: realtime/api/system.py and gpu_host/scheduler.py.
 */

export interface ServiceInfo {
  name: string;
  state: 'resident' | 'asleep' | 'stopped' | 'failed' | 'unknown';
  mb: number;
  detail: string;
  verbs: string[];
  last_switch: number | null;
  last_switch_s: number | null;
}

export interface LeaseInfo {
  lease_id: string;
  job_id: string;
  plan: string;
  stage: string;
  state: 'queued' | 'granted' | 'released' | 'preempted' | 'expired' | 'refused';
  waited_s: number;
  job_waiting_s: number;
  progress: number | null;
  protected: boolean;
  error: string | null;
}

export interface SwitchInfo { at: number; from: string; to: string; result: string; took_s: number; error: string | null }

export interface GpuStatus {
  mode: string;
  plan: string;
  switching: string | null;
  ready: boolean;
  error: string | null;
  host?: string;
  vram: {
    used_mb: number;
    total_mb: number;
    usage_percent: number;
    active_services: string[];
    device: { kind: string; name: string; peak_mb: number; headroom_mb: number };
    services: ServiceInfo[];
  };
  leases: LeaseInfo[];
  policy: { idle_window_s: number; backoff: number; quiet_s: number | null; last_live: string | null; holds?: number };
  switches: SwitchInfo[];
}

export const MODES = ['chat', 'tts', 'style', 'gen3d', 'auto'] as const;
export type Mode = (typeof MODES)[number];

export interface ApiError { code: string; message: string; status: number }
export type ApiResult<T> = { ok: true; data: T } | { ok: false; error: ApiError };

function record(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/** The project's envelope `{success, data}` / `{success: false, error: {code, message}}`. */
export function unwrap<T>(status: number, body: unknown, check: (d: unknown) => d is T): ApiResult<T> {
  const env = record(body);
  if (env && env.success === true && check(env.data)) return { ok: true, data: env.data };
  const err = env && record(env.error);
  return {
    ok: false,
    error: {
      code: typeof err?.code === 'string' ? err.code : 'BAD_RESPONSE',
      message: typeof err?.message === 'string' ? err.message : `unexpected answer (HTTP ${status})`,
      status,
    },
  };
}

export function isGpuStatus(d: unknown): d is GpuStatus {
  const r = record(d);
  const vram = r && record(r.vram);
  return !!r && typeof r.plan === 'string' && typeof r.mode === 'string' && !!vram
    && typeof vram.total_mb === 'number' && Array.isArray(vram.services) && Array.isArray(r.leases);
}

export interface ModeSwitch { previous_mode: string; current_mode: string; switch_time_ms: number }

export function isModeSwitch(d: unknown): d is ModeSwitch {
  const r = record(d);
  return !!r && typeof r.current_mode === 'string' && typeof r.switch_time_ms === 'number';
}

function headers(token: string | null, json = false): Record<string, string> {
  const h: Record<string, string> = { accept: 'application/json' };
  if (json) h['content-type'] = 'application/json';
  if (token) h.authorization = `Bearer ${token}`;
  return h;
}

async function call<T>(fetcher: typeof fetch, url: string, init: RequestInit,
                       check: (d: unknown) => d is T): Promise<ApiResult<T>> {
  try {
    const res = await fetcher(url, init);
    let body: unknown = null;
    try { body = await res.json(); } catch { /* not JSON: reported below */ }
    return unwrap(res.status, body, check);
  } catch (err) {
    return { ok: false, error: { code: 'OFFLINE', message: String(err), status: 0 } };
  }
}

export function fetchGpuStatus(token: string | null, fetcher: typeof fetch = fetch): Promise<ApiResult<GpuStatus>> {
  return call(fetcher, '/api/system/gpu', { headers: headers(token) }, isGpuStatus);
}

export function requestMode(mode: Mode, token: string | null,
                            fetcher: typeof fetch = fetch): Promise<ApiResult<ModeSwitch>> {
  return call(fetcher, '/api/system/mode',
              { method: 'POST', headers: headers(token, true), body: JSON.stringify({ mode }) }, isModeSwitch);
}

export interface Segment { name: string; mb: number; percent: number; state: string }

/**
 * The VRAM bar: one segment per service holding memory (its share of the device), then what
 * nobody we know holds (`other`, e.g. another process), then the free rest. Percentages add
 * up to 100 (the device), never more, even when the figures are declared rather than observed.
 */
export function vramSegments(vram: GpuStatus['vram']): Segment[] {
  const total = Math.max(1, vram.total_mb);
  const out: Segment[] = [];
  let shown = 0;
  for (const s of vram.services) {
    const mb = Math.max(0, Math.min(s.mb, total - shown));
    if (mb <= 0) continue;
    out.push({ name: s.name, mb, percent: (100 * mb) / total, state: s.state });
    shown += mb;
  }
  const other = Math.max(0, Math.min(vram.used_mb, total) - shown);
  if (other > 0) {
    out.push({ name: 'other', mb: other, percent: (100 * other) / total, state: 'resident' });
    shown += other;
  }
  out.push({ name: 'free', mb: total - shown, percent: (100 * (total - shown)) / total, state: 'free' });
  return out;
}

/** The plan as the operator reads it: the seeds' mode name where there is one. */
export function planLabel(plan: string): string {
  return plan === 'conversation' ? 'conversation (chat)' : plan;
}
