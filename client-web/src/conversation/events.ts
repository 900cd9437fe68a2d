/**
 * Server events -> player, performance and UI store (protocol v1, docs/protocol.md).
 */
import type { AudioFrame, EventOf, ServerEvent } from '../protocol/codec';
import {
  addMessage, pushError, updateMessage, useStore, type ChatMessage, type Latency,
} from '../state/store';
import type { ConversationState as Conversation } from './types';
import { onJobEvent } from '../create/jobs';

const byResponse = (id: number) => (m: ChatMessage) => m.role === 'assistant' && m.responseId === id;

export function handleEvent(c: Conversation, ev: ServerEvent): void {
  c.counters.events[ev.type] = (c.counters.events[ev.type] ?? 0) + 1;
  switch (ev.type) {
    case 'session.ready': return onReady(c, ev);
    case 'session.updated': {
      const before = useStore.getState().session;
      useStore.setState({ session: ev.session });
      if (before && before.character_id !== ev.session.character_id) {
        addMessage({ role: 'note', text: `Now talking to ${ev.session.character_name}.` });
        c.showCharacterAvatar();
      }
      return;
    }
    case 'response.started': return onStarted(c, ev);
    case 'response.text.delta':
      if (ev.response_id === c.speakResponse) return;
      updateMessage(byResponse(ev.response_id), (m) => ({ text: m.text + ev.delta }));
      return;
    case 'response.visemes':
      c.performance.addVisemes(ev.response_id, ev.visemes);
      return;
    case 'avatar.animation':
      c.performance.addAnimation(ev);
      return;
    case 'response.interrupted': {
      // stop playing it now: queued audio is flushed and the mouth closes
      c.ignored.add(ev.response_id);
      if (c.player.responseId === ev.response_id) c.player.flush();
      if (c.performance.responseId === ev.response_id) c.performance.flush();
      updateMessage(byResponse(ev.response_id), () => ({ status: 'interrupted', heardText: ev.heard_text }));
      return;
    }
    case 'response.done': return onDone(c, ev);
    case 'vad.speech_started': {
      c.userSpeaking = true;
      const barge = useStore.getState().session?.barge_in !== false;
      if (barge && c.player.active) c.silence();
      return;
    }
    case 'vad.speech_stopped':
      c.userSpeaking = false;
      if (!useStore.getState().settings.pushToTalk) {
        c.speechStoppedAt = performance.now();
        c.awaitingResponse = true;
      }
      return;
    case 'input.audio.committed':
      c.speechStoppedAt = performance.now();
      c.awaitingResponse = true;
      return;
    case 'transcript.partial':
      useStore.setState({ partialTranscript: ev.text });
      return;
    case 'transcript.final':
      useStore.setState({ partialTranscript: null });
      addMessage({ role: 'user', text: ev.text, source: 'voice' });
      return;
    case 'transcript.rejected':
      useStore.setState({ partialTranscript: null });
      c.awaitingResponse = false;
      addMessage({ role: 'note', text: `Didn't catch that (${ev.reason.replace(/_/g, ' ')}).` });
      return;
    case 'error':
      // refusing a resume (the server forgot that session) is expected: a new one starts at once
      if (c.resuming && ev.code === 'NOT_FOUND') return;
      pushError(ev.code, ev.message);
      if (ev.response_id != null) {
        updateMessage(byResponse(ev.response_id), () => ({ error: `${ev.code}: ${ev.message}` }));
      } else {
        c.awaitingResponse = false;
      }
      return;
    case 'response.audio.done':
      c.counters.audioDone[ev.response_id] = ev.total_samples;
      return;
    case 'job.progress': // avatar jobs of this user (src/create)
    case 'job.done':
      onJobEvent(ev);
      return;
    case 'response.sentence':
    case 'input.audio.cleared':
    case 'pong':
    case 'response.audio': // SSE only
      return;
  }
}

function onReady(c: Conversation, ev: EventOf<'session.ready'>): void {
  const reconnected = c.hadSession;
  c.hadSession = true;
  const resumed = c.resuming && ev.session_id === c.resumeId && ev.resumed != null && ev.resumed !== 'empty';
  c.resuming = false;
  c.resumeId = ev.session_id;
  c.ignored.clear();
  c.origins.clear();
  c.pendingTexts.length = 0;
  c.awaitingResponse = false;
  c.userSpeaking = false;
  c.silence();
  c.player.setRate(ev.output_sample_rate);
  useStore.setState({
    sessionId: ev.session_id, session: ev.session, outputRate: ev.output_sample_rate,
    activeResponseId: null, partialTranscript: null,
  });
  // a reconnection is a new server session: stale "streaming" messages end here
  useStore.setState((s) => ({
    messages: s.messages.map((m) => (m.status === 'streaming' ? { ...m, status: 'interrupted' } : m)),
  }));
  if (reconnected) {
    addMessage({
      role: 'note',
      text: resumed ? 'Reconnected — the conversation goes on.'
        : 'Reconnected — a new session (earlier messages are not remembered).',
    });
  }
  const update = c.sessionUpdate();
  if (update) c.send(update);
  void c.loadCharacters();
}

function onStarted(c: Conversation, ev: EventOf<'response.started'>): void {
  c.awaitingResponse = false;
  // a newer response supersedes whatever is still playing
  const playing = c.player.responseId;
  if (playing !== null && playing !== ev.response_id) {
    c.ignored.add(playing);
    c.player.flush();
  }
  c.performance.begin(ev.response_id);
  let sentAt: number | null;
  if (ev.source === 'text') sentAt = c.pendingTexts.shift() ?? null;
  else if (ev.source === 'voice') {
    sentAt = c.speechStoppedAt;
    c.speechStoppedAt = null;
  } else sentAt = performance.now();
  c.origins.set(ev.response_id, sentAt);
  useStore.setState({ activeResponseId: ev.response_id });
  if (ev.source === 'speak' && c.pendingSpeak) {
    const id = c.pendingSpeak;
    c.pendingSpeak = null;
    c.speakResponse = ev.response_id;
    updateMessage((m) => m.id === id, () => ({ speakResponseId: ev.response_id }));
    return;
  }
  addMessage({ role: 'assistant', text: '', responseId: ev.response_id, source: ev.source, status: 'streaming' });
}

function onDone(c: Conversation, ev: EventOf<'response.done'>): void {
  const st = useStore.getState();
  if (st.activeResponseId === ev.response_id) useStore.setState({ activeResponseId: null });
  const sentAt = c.origins.get(ev.response_id) ?? null;
  c.origins.delete(ev.response_id);
  const source: Latency['source'] = ev.response_id === c.speakResponse ? 'speak'
    : ev.timings.speech_stopped != null ? 'voice' : 'text';
  const serverMs = source === 'voice' ? (ev.timings.voice_to_voice_ms ?? null) : (ev.timings.first_audio_sent ?? null);
  const latency: Latency = { responseId: ev.response_id, source, serverMs, heardMs: null, timings: ev.timings };
  const first = c.player.responseId === ev.response_id ? c.player.firstSampleWallMs() : null;
  if (sentAt !== null && first !== null) {
    // voice: from the end of the user's speech (the end-of-turn silence came before the decision)
    const endpoint = source === 'voice' ? (ev.timings.endpoint_ms ?? 0) : 0;
    latency.heardMs = Math.round(first - sentAt + endpoint);
  }
  if (ev.status !== 'completed' && c.player.responseId !== ev.response_id) c.ignored.add(ev.response_id);
  if (source === 'speak') {
    c.speakResponse = null;
    if (ev.status === 'failed') pushError(ev.error?.code ?? 'FAILED', ev.error?.message ?? 'replay failed');
  } else {
    updateMessage(byResponse(ev.response_id), (m) => ({
      text: ev.text || m.text,
      status: m.status === 'interrupted' ? 'interrupted' : ev.status,
      ...(ev.error ? { error: `${ev.error.code ?? 'ERROR'}: ${ev.error.message ?? ''}` } : {}),
      latency,
    }));
  }
  useStore.setState({ latency });
}

export function handleAudio(c: Conversation, frame: AudioFrame): void {
  if (c.ignored.has(frame.responseId)) return;
  // audio of a response whose response.started was missed still drives the avatar
  if (c.performance.responseId !== frame.responseId) c.performance.begin(frame.responseId);
  c.player.push(frame, c.ignored);
}
