/**
 * The character picker's list: GET /api/characters. The endpoint may be missing (404: the
 * picker shows the session's default persona) and its body may be a plain list, `{items: [...]}`
 * or the REST envelope `{success, data}` around either.
 */

export interface CharacterInfo {
  id: string;
  name: string;
  description?: string;
  language?: string;
  /** A GLB/VRM to show for this character, when the server names one. */
  avatarUrl?: string;
}

function asRecord(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

/** Normalise any of the accepted shapes to a list; throws on something else. */
export function parseCharacters(body: unknown): CharacterInfo[] {
  let list: unknown = body;
  const env = asRecord(list);
  if (env && 'data' in env && ('success' in env || Object.keys(env).length === 1)) list = env.data;
  const wrapped = asRecord(list);
  if (wrapped && Array.isArray(wrapped.items)) list = wrapped.items;
  if (!Array.isArray(list)) throw new Error('unexpected /api/characters response');
  const out: CharacterInfo[] = [];
  for (const item of list) {
    const r = asRecord(item);
    const id = r && (str(r.id) ?? (typeof r.id === 'number' ? String(r.id) : undefined));
    if (!r || !id) continue;
    const c: CharacterInfo = { id, name: str(r.name) ?? id };
    const description = str(r.description) ?? str(r.persona);
    if (description) c.description = description;
    const language = str(r.language);
    if (language) c.language = language;
    const avatarUrl = str(r.avatar_url) ?? str(r.avatarUrl) ?? str(r.model_url);
    if (avatarUrl) c.avatarUrl = avatarUrl;
    out.push(c);
  }
  return out;
}

export type CharactersResult =
  | { status: 'ok'; characters: CharacterInfo[] }
  | { status: 'unavailable'; reason: string };

export async function fetchCharacters(token: string | null = null,
                                      fetcher: typeof fetch = fetch): Promise<CharactersResult> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  try {
    const res = await fetcher('/api/characters', { headers });
    if (res.status === 404) return { status: 'unavailable', reason: 'no character list on this server' };
    if (!res.ok) return { status: 'unavailable', reason: `GET /api/characters: HTTP ${res.status}` };
    return { status: 'ok', characters: parseCharacters(await res.json()) };
  } catch (err) {
    return { status: 'unavailable', reason: err instanceof Error ? err.message : String(err) };
  }
}
