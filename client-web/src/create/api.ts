/**
 * The avatar job API (docs/avatars.md): POST /api/generate (multipart `image` + `options`),
 * GET its status, DELETE to cancel, and a character whose `avatar_url` is the result.
 * Pure request/response helpers; errors come back in the server's envelope.
 */

export type JobStatus = 'queued' | 'processing' | 'completed' | 'failed' | 'cancelled';

export interface GenerateOptions {
  style: 'none' | 'anime' | 'cartoon' | 'chibi';
  hair: 'bun' | 'bob' | 'short' | 'long';
  body: 'head_shoulders' | 'full';
  vrm: boolean;
  name: string;
}

export interface JobView {
  jobId: string;
  status: JobStatus;
  progress: number;
  step: string | null;
  resultUrl: string | null;
  thumbnailUrl: string | null;
  vrmUrl: string | null;
  error: { code: string; message: string } | null;
  notes: string[];
}

export class ApiFailure extends Error {
  constructor(readonly code: string, message: string, readonly status: number) {
    super(message);
  }
}

export function sessionToken(): string | null {
  try {
    return sessionStorage.getItem('avatar.token');
  } catch {
    return null;
  }
}

function headers(token: string | null): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Our model URLs need the session token in token mode (loaders cannot send headers). */
export function authorizedUrl(url: string, token: string | null = sessionToken()): string {
  if (!token || !/^\/api\/(models|style\/images)\//.test(url)) return url;
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}

async function unwrap<T>(res: Response): Promise<T> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  const env = body as { success?: boolean; data?: T; error?: { code: string; message: string } } | null;
  if (!res.ok || !env || env.success === false) {
    const err = env?.error ?? { code: `HTTP_${res.status}`, message: res.statusText || 'request failed' };
    throw new ApiFailure(err.code, err.message, res.status);
  }
  return env.data as T;
}

/** The status payload -> what the panel shows. */
export function toView(data: Record<string, unknown>): JobView {
  const result = (data.result ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    jobId: String(data.job_id),
    status: data.status as JobStatus,
    progress: Number(data.progress ?? 0),
    step: str(data.current_step),
    resultUrl: str(data.result_url),
    thumbnailUrl: str(result.thumbnail_url),
    vrmUrl: str(result.vrm_url),
    error: (data.error as JobView['error']) ?? null,
    notes: Array.isArray(data.notes) ? (data.notes as string[]) : [],
  };
}

export async function submitGenerate(file: Blob, options: GenerateOptions, token = sessionToken(),
                                     fetcher: typeof fetch = fetch): Promise<{ jobId: string; statusUrl: string; estimatedS: number }> {
  const form = new FormData();
  form.append('image', file, (file as File).name ?? 'photo');
  form.append('options', JSON.stringify(options));
  const data = await unwrap<{ job_id: string; status_url: string; estimated_time: number }>(
    await fetcher('/api/generate', { method: 'POST', body: form, headers: headers(token) }));
  return { jobId: data.job_id, statusUrl: data.status_url, estimatedS: data.estimated_time };
}

export async function fetchJob(jobId: string, token = sessionToken(),
                               fetcher: typeof fetch = fetch): Promise<JobView> {
  return toView(await unwrap(await fetcher(`/api/generate/status/${jobId}`, { headers: headers(token) })));
}

export async function cancelJob(jobId: string, token = sessionToken(),
                                fetcher: typeof fetch = fetch): Promise<JobView> {
  return toView(await unwrap(await fetcher(`/api/generate/status/${jobId}`, {
    method: 'DELETE', headers: headers(token) })));
}

/** A new character of this user that wears the avatar; -> its id. */
export async function createCharacter(name: string, avatarUrl: string, token = sessionToken(),
                                      fetcher: typeof fetch = fetch): Promise<string> {
  const data = await unwrap<{ id: string }>(await fetcher('/api/characters', {
    method: 'POST',
    headers: { ...headers(token), 'content-type': 'application/json' },
    body: JSON.stringify({ name, persona: 'A friendly avatar made from a photo. Warm, curious and brief.',
                           avatar_url: avatarUrl }),
  }));
  return data.id;
}
