/**
 * UI state (zustand). Per-frame data (mouth weights, audio clock) never goes through here: the
 * 3D view reads it straight from the controller each frame; this store holds what the panels show.
 */
import { create } from 'zustand';
import type { CharacterInfo } from '../net/characters';
import type { LinkStatus } from '../net/connection';
import type { SessionConfig, Timings } from '../protocol/generated';

export type TtsMode = 'realtime' | 'delayed' | 'on_click';
export type MicState = 'off' | 'requesting' | 'on' | 'denied' | 'unsupported' | 'no-device' | 'error';
/** What the conversation is doing, as the status pill shows it. */
export type Activity = 'idle' | 'listening' | 'user_speaking' | 'thinking' | 'speaking';

export interface Latency {
  responseId: number;
  source: 'text' | 'voice' | 'speak';
  /** Server: turn origin -> first audio sent (typed) or end of speech -> first audio (voice). */
  serverMs: number | null;
  /** Client: message sent / end of speech heard by the server -> first sample audible here. */
  heardMs: number | null;
  timings: Timings;
}

export interface ChatMessage {
  id: string;
  role: 'user' | 'assistant' | 'note';
  text: string;
  /** Assistant: its response id; `speak` replays map onto the message they replay. */
  responseId?: number;
  source?: 'text' | 'voice' | 'speak';
  status?: 'streaming' | 'completed' | 'interrupted' | 'failed';
  /** The response replaying this message (response.speak), if any. */
  speakResponseId?: number;
  /** What the user heard before an interruption (the rest is shown dimmed). */
  heardText?: string;
  error?: string;
  latency?: Latency;
}

export interface ErrorItem {
  id: number;
  code: string;
  message: string;
  at: number;
}

export interface Settings {
  audioOn: boolean;
  ttsMode: TtsMode;
  pushToTalk: boolean;
  characterId: string | null;
}

export interface AppState {
  link: LinkStatus;
  sessionId: string | null;
  session: SessionConfig | null;
  outputRate: number | null;
  characters: CharacterInfo[];
  charactersNote: string | null;
  messages: ChatMessage[];
  partialTranscript: string | null;
  mic: { state: MicState; message: string | null };
  micLevel: number;
  pttHeld: boolean;
  activity: Activity;
  activeResponseId: number | null;
  latency: Latency | null;
  errors: ErrorItem[];
  settings: Settings;
  avatar: {
    url: string;
    label: string;
    /** Who chose it: the default, the character (its avatar_url), a file, or `?avatar=`. */
    source: 'default' | 'character' | 'file' | 'param';
    status: 'loading' | 'ready' | 'error';
    message: string | null;
  };
}

const SETTINGS_KEY = 'avatar.settings.v1';

export function loadSettings(storage: Pick<Storage, 'getItem'> | null): Settings {
  const defaults: Settings = { audioOn: true, ttsMode: 'realtime', pushToTalk: false, characterId: null };
  try {
    const raw = storage?.getItem(SETTINGS_KEY);
    if (!raw) return defaults;
    const v = JSON.parse(raw) as Partial<Settings>;
    return {
      audioOn: typeof v.audioOn === 'boolean' ? v.audioOn : defaults.audioOn,
      ttsMode: v.ttsMode === 'delayed' || v.ttsMode === 'on_click' ? v.ttsMode : 'realtime',
      pushToTalk: v.pushToTalk === true,
      characterId: typeof v.characterId === 'string' ? v.characterId : null,
    };
  } catch {
    return defaults;
  }
}

export function saveSettings(settings: Settings): void {
  try {
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
  } catch {
    /* private mode: settings live for this page only */
  }
}

const storage = typeof localStorage === 'undefined' ? null : localStorage;
export const DEFAULT_AVATAR = '/avatars/default.glb';
/** `?avatar=/path/model.vrm` opens another model (same origin, or any URL that allows CORS). */
const avatarParam = typeof location === 'undefined' ? null : new URLSearchParams(location.search).get('avatar');

export const useStore = create<AppState>(() => ({
  link: { state: 'connecting', attempt: 0, retryAt: null, reason: null },
  sessionId: null,
  session: null,
  outputRate: null,
  characters: [],
  charactersNote: null,
  messages: [],
  partialTranscript: null,
  mic: { state: 'off', message: null },
  micLevel: 0,
  pttHeld: false,
  activity: 'idle',
  activeResponseId: null,
  latency: null,
  errors: [],
  settings: loadSettings(storage),
  avatar: avatarParam
    ? { url: avatarParam, label: avatarParam.split('/').pop() ?? avatarParam, source: 'param', status: 'loading', message: null }
    : { url: DEFAULT_AVATAR, label: 'Default avatar', source: 'default', status: 'loading', message: null },
}));

let nextId = 1;
export const newId = (prefix: string): string => `${prefix}-${nextId++}`;

export function pushError(code: string, message: string): void {
  useStore.setState((s) => ({
    errors: [...s.errors.slice(-4), { id: nextId++, code, message, at: Date.now() }],
  }));
}

export function dismissError(id: number): void {
  useStore.setState((s) => ({ errors: s.errors.filter((e) => e.id !== id) }));
}

export function addMessage(msg: Omit<ChatMessage, 'id'>): string {
  const id = newId(msg.role);
  useStore.setState((s) => ({ messages: [...s.messages, { ...msg, id }] }));
  return id;
}

export function updateMessage(match: (m: ChatMessage) => boolean,
                              patch: (m: ChatMessage) => Partial<ChatMessage>): void {
  useStore.setState((s) => ({
    messages: s.messages.map((m) => (match(m) ? { ...m, ...patch(m) } : m)),
  }));
}

export function setSettings(patch: Partial<Settings>): Settings {
  const settings = { ...useStore.getState().settings, ...patch };
  useStore.setState({ settings });
  saveSettings(settings);
  return settings;
}
