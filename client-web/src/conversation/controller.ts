/**
 * The conversation: one WebSocket session, the audio player, the microphone and the avatar's
 * performance, wired to the UI store. Server events are handled in ./events.ts.
 */
import { AudioPlayer } from '../audio/player';
import { Microphone, MicError } from '../audio/mic';
import { Performance } from '../lipsync/performance';
import { fetchCharacters } from '../net/characters';
import { Connection, wsUrl } from '../net/connection';
import type { ClientMessage } from '../protocol/codec';
import type { SessionUpdate } from '../protocol/generated';
import {
  addMessage, DEFAULT_AVATAR, pushError, setSettings, useStore, type Activity, type TtsMode,
} from '../state/store';
import { handleAudio, handleEvent } from './events';
import type { ConversationState } from './types';

const MARK_INTERVAL_MS = 250;
const TICK_MS = 100;

function sessionToken(): string | null {
  try {
    const fromUrl = new URLSearchParams(window.location.search).get('token');
    if (fromUrl) sessionStorage.setItem('avatar.token', fromUrl);
    return fromUrl ?? sessionStorage.getItem('avatar.token');
  } catch {
    return null;
  }
}

export class Conversation implements ConversationState {
  readonly player = new AudioPlayer();
  readonly performance = new Performance();
  readonly connection: Connection;
  readonly mic: Microphone;
  /** Responses whose audio must not play any more (interrupted, cancelled, superseded). */
  readonly ignored = new Set<number>();
  /** Per response: performance.now() its latency is measured from (send / end of speech). */
  readonly origins = new Map<number, number | null>();
  /** Typed messages sent and not yet answered by response.started (wall ms). */
  readonly pendingTexts: number[] = [];
  /** performance.now() when the server decided the end of the user's last utterance. */
  speechStoppedAt: number | null = null;
  /** Replay requested for this message (response.speak); its response maps onto it. */
  pendingSpeak: string | null = null;
  /** The response that is replaying a message (its text is not shown twice). */
  speakResponse: number | null = null;
  userSpeaking = false;
  awaitingResponse = false;
  hadSession = false;
  /** The session to resume after a reconnection (`/ws?session_id=`), while the server knows it. */
  resumeId: string | null = null;
  /** A resume attempt is under way (its NOT_FOUND refusal is expected, not an error to show). */
  resuming = false;
  /** `?token=` (AVATAR_AUTH_MODE=token): kept for the tab, sent to /ws and the REST API. */
  readonly token = sessionToken();
  readonly counters = {
    marksSent: 0,
    micFramesSent: 0,
    events: {} as Record<string, number>,
    /** response id -> total_samples announced by response.audio.done */
    audioDone: {} as Record<number, number>,
  };
  private lastMark: { responseId: number; ms: number } | null = null;
  private timers: ReturnType<typeof setInterval>[] = [];

  constructor() {
    const url = () => {
      this.resuming = this.resumeId !== null;
      return wsUrl(window.location, '/ws', { token: this.token, session_id: this.resumeId });
    };
    this.connection = new Connection(url, {
      onStatus: (link) => useStore.setState({ link }),
      onOpen: () => {},
      onEvent: (event) => handleEvent(this, event),
      onAudio: (frame) => handleAudio(this, frame),
      onDecodeError: (message) => pushError('DECODE_ERROR', message),
      onClosed: (code) => {
        // 1008 while resuming: the server no longer knows that session -> start a new one now
        if (code === 1008 && this.resuming) {
          this.resumeId = null;
          this.resuming = false;
          return 'now';
        }
        return 'backoff';
      },
    });
    this.mic = new Microphone({
      onFrame: (pcm) => this.sendMicFrame(pcm),
      onLevel: (micLevel) => useStore.setState({ micLevel }),
      onEnded: () => {
        this.stopMic();
        useStore.setState({ mic: { state: 'error', message: 'the microphone stopped (unplugged?)' } });
      },
    });
  }

  start(): void {
    this.connection.connect();
    this.timers.push(setInterval(() => this.sendMarks(), MARK_INTERVAL_MS));
    this.timers.push(setInterval(() => this.tick(), TICK_MS));
    window.addEventListener('online', () => this.connection.retryNow());
    // browsers start audio suspended until a gesture: resume on any interaction
    const resume = () => void this.player.resume().catch(() => {});
    window.addEventListener('pointerdown', resume, { capture: true });
    window.addEventListener('keydown', resume, { capture: true });
  }

  send(msg: ClientMessage): boolean {
    const ok = this.connection.send(msg);
    if (!ok && msg.type !== 'playback.mark' && msg.type !== 'ping') {
      pushError('OFFLINE', 'not connected to the server — reconnecting, try again in a moment');
    }
    return ok;
  }

  // ------------------------------------------------------------------------------ user actions
  sendText(text: string): void {
    const t = text.trim();
    if (!t) return;
    void this.player.resume().catch(() => {});
    if (!this.send({ type: 'input.text', text: t })) return;
    addMessage({ role: 'user', text: t, source: 'text' });
    this.pendingTexts.push(performance.now());
    this.awaitingResponse = true;
  }

  /** The stop button: cancel generation and silence the avatar at once. */
  cancel(): void {
    const id = useStore.getState().activeResponseId ?? this.player.responseId;
    this.silence();
    this.send({ type: 'response.cancel', ...(id !== null ? { response_id: id } : {}) });
    this.awaitingResponse = false;
  }

  /** Flush queued audio and close the mouth now (barge-in, cancel). */
  silence(): void {
    const playing = this.player.responseId;
    if (playing !== null) {
      this.ignored.add(playing);
      this.sendMark(playing, this.player.positionMs(playing));
    }
    this.player.flush();
    this.performance.flush();
  }

  speak(messageId: string, responseId: number): void {
    void this.player.resume().catch(() => {});
    if (this.send({ type: 'response.speak', response_id: responseId })) {
      this.pendingSpeak = messageId;
      this.awaitingResponse = true;
    }
  }

  setAudioOn(audioOn: boolean): void {
    setSettings({ audioOn });
    if (!audioOn) this.silence();
    this.send({ type: 'session.update', tts_enabled: audioOn });
  }

  setTtsMode(ttsMode: TtsMode): void {
    setSettings({ ttsMode });
    this.send({ type: 'session.update', tts_mode: ttsMode });
  }

  setPushToTalk(pushToTalk: boolean): void {
    setSettings({ pushToTalk });
    this.send({ type: 'session.update', turn_detection: pushToTalk ? 'manual' : 'server_vad' });
    useStore.setState({ pttHeld: false });
  }

  selectCharacter(characterId: string): void {
    setSettings({ characterId });
    this.send({ type: 'session.update', character_id: characterId });
  }

  /** The settings this client wants, sent after every (re)connection. */
  sessionUpdate(): SessionUpdate | null {
    const s = useStore.getState().settings;
    const msg: SessionUpdate = { type: 'session.update' };
    if (!s.audioOn) msg.tts_enabled = false;
    if (s.ttsMode !== 'realtime') msg.tts_mode = s.ttsMode;
    if (s.pushToTalk) msg.turn_detection = 'manual';
    if (s.characterId) msg.character_id = s.characterId;
    return Object.keys(msg).length > 1 ? msg : null;
  }

  async loadCharacters(): Promise<void> {
    const result = await fetchCharacters(this.token);
    if (result.status === 'ok') useStore.setState({ characters: result.characters, charactersNote: null });
    else useStore.setState({ characters: [], charactersNote: result.reason });
    this.showCharacterAvatar();
  }

  /** The current character's own model, if the server names one (unless the user chose a file). */
  showCharacterAvatar(): void {
    const { characters, session, avatar } = useStore.getState();
    if (avatar.source === 'file' || avatar.source === 'param') return;
    const url = characters.find((ch) => ch.id === session?.character_id)?.avatarUrl ?? DEFAULT_AVATAR;
    if (url !== avatar.url) {
      useStore.setState({ avatar: { ...avatar, url, source: 'character', label: url.split('/').pop() ?? url } });
    }
  }

  async startMic(): Promise<boolean> {
    if (this.mic.running) return true;
    useStore.setState({ mic: { state: 'requesting', message: null } });
    try {
      await this.mic.start();
      useStore.setState({ mic: { state: 'on', message: null } });
      return true;
    } catch (err) {
      const kind = err instanceof MicError ? err.kind : 'error';
      const message = err instanceof Error ? err.message : String(err);
      useStore.setState({ mic: { state: kind, message } });
      return false;
    }
  }

  stopMic(): void {
    this.mic.stop();
    this.userSpeaking = false;
    useStore.setState({ mic: { state: 'off', message: null }, pttHeld: false });
  }

  async pttDown(): Promise<void> {
    if (useStore.getState().pttHeld) return;
    if (!(await this.startMic())) return;
    this.silence(); // talking over the avatar: it stops at once
    this.send({ type: 'input.audio.clear' });
    useStore.setState({ pttHeld: true });
  }

  pttUp(): void {
    if (!useStore.getState().pttHeld) return;
    useStore.setState({ pttHeld: false });
    if (this.send({ type: 'input.audio.commit' })) this.awaitingResponse = true;
  }

  // ------------------------------------------------------------------------------ internals
  private sendMicFrame(pcm: ArrayBuffer): void {
    const { settings, pttHeld } = useStore.getState();
    if (settings.pushToTalk && !pttHeld) return;
    if (this.connection.sendBinary(pcm)) this.counters.micFramesSent += 1;
  }

  sendMark(responseId: number, ms: number | null): void {
    if (ms === null) return;
    const played = Math.round(ms);
    if (this.lastMark && this.lastMark.responseId === responseId && this.lastMark.ms === played) return;
    if (this.connection.send({ type: 'playback.mark', response_id: responseId, played_ms: played })) {
      this.lastMark = { responseId, ms: played };
      this.counters.marksSent += 1;
    }
  }

  /** Every 250 ms while playing, and once when a response's audio has played out. */
  private sendMarks(): void {
    const id = this.player.responseId;
    if (id === null || this.ignored.has(id)) return;
    this.sendMark(id, this.player.positionMs(id));
  }

  private tick(): void {
    const st = useStore.getState();
    const speaking = this.player.active && this.player.positionMs(this.player.responseId) !== null;
    let activity: Activity;
    if (speaking) activity = 'speaking';
    else if (this.userSpeaking || st.pttHeld) activity = 'user_speaking';
    else if (this.awaitingResponse || st.activeResponseId !== null || this.player.active) activity = 'thinking';
    else activity = st.mic.state === 'on' ? 'listening' : 'idle';
    if (activity !== st.activity) useStore.setState({ activity });
  }
}
