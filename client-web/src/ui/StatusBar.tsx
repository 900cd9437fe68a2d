/**
 * Top bar: connection and conversation state, character picker, latency of the last turn.
 */
import { useEffect, useState } from 'react';
import { useStore, type Activity } from '../state/store';
import { useConversation } from './context';

const ACTIVITY: Record<Activity, string> = {
  idle: 'Ready — type a message or turn on the microphone',
  listening: 'Listening…',
  user_speaking: 'You are speaking',
  thinking: 'Thinking…',
  speaking: 'Speaking',
};

function useNow(active: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!active) return;
    const id = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(id);
  }, [active]);
  return now;
}

export function ConnectionState() {
  const c = useConversation();
  const link = useStore((s) => s.link);
  const activity = useStore((s) => s.activity);
  const now = useNow(link.state === 'reconnecting');
  if (link.state === 'open') {
    return (
      <div className={`pill activity-${activity}`} data-testid="status" data-state="open" data-activity={activity}>
        <span className="dot" /> {ACTIVITY[activity]}
      </div>
    );
  }
  const secs = link.retryAt ? Math.max(0, Math.ceil((link.retryAt - now) / 1000)) : null;
  const text = link.state === 'connecting' ? 'Connecting to the server…'
    : link.state === 'closed' ? 'Disconnected'
    : `Server unreachable — reconnecting${secs !== null && secs > 0 ? ` in ${secs} s` : '…'} (attempt ${link.attempt})`;
  return (
    <div className="pill pill-warn" data-testid="status" data-state={link.state} data-activity={activity} role="status">
      <span className="dot" /> {text}
      {link.state === 'reconnecting' && (
        <button type="button" className="link" onClick={() => c.connection.retryNow()}>Retry now</button>
      )}
    </div>
  );
}

const LANGUAGE_NAMES: Record<string, string> = { en: 'English', ko: 'Korean', ja: 'Japanese', zh: 'Chinese' };

/** The model cannot really answer in this conversation's language: say so, do not pretend. */
export function AnswerLanguageNote() {
  const session = useStore((s) => s.session);
  if (!session) return null;
  const langs = session.answer_languages ?? ['*'];
  const lang = session.language.split('-')[0] ?? session.language;
  if (langs.includes('*') || langs.includes(lang)) return null;
  const name = LANGUAGE_NAMES[lang] ?? lang;
  const can = langs.map((l) => LANGUAGE_NAMES[l] ?? l).join(', ');
  return (
    <p className="answer-languages" data-testid="answer-languages" role="note">
      This server's model answers well only in {can}: {name} answers will be broken. (A
      multilingual model behind AVATAR_LLM_BASE_URL fixes this.)
    </p>
  );
}

export function CharacterPicker() {
  const c = useConversation();
  const characters = useStore((s) => s.characters);
  const session = useStore((s) => s.session);
  const note = useStore((s) => s.charactersNote);
  if (characters.length === 0) {
    return (
      <div className="character" data-testid="character" title={note ?? ''}>
        {session ? <>Talking to <b>{session.character_name}</b></> : null}
      </div>
    );
  }
  const current = session?.character_id ?? '';
  return (
    <label className="character">
      Character{' '}
      <select data-testid="character-select" value={current}
              onChange={(e) => c.selectCharacter(e.target.value)}>
        {!characters.some((ch) => ch.id === current) && current && (
          <option value={current}>{session?.character_name ?? current}</option>
        )}
        {characters.map((ch) => (
          <option key={ch.id} value={ch.id} title={ch.description}>{ch.name}</option>
        ))}
      </select>
    </label>
  );
}

export function LatencyReadout() {
  const latency = useStore((s) => s.latency);
  if (!latency) return <div className="latency" data-testid="latency" />;
  const t = latency.timings;
  const parts = [
    t.stt_ms != null ? `STT ${Math.round(t.stt_ms)}` : null,
    t.llm_first_token != null ? `LLM 1st token ${Math.round(t.llm_first_token)}` : null,
    t.tts_first_ms ? `TTS ${Math.round(t.tts_first_ms)}` : null,
    t.overhead_ms != null ? `overhead ${Math.round(t.overhead_ms)}` : null,
  ].filter(Boolean).join(' · ');
  const label = latency.source === 'voice' ? 'voice → voice' : 'text → voice';
  return (
    <div className="latency" data-testid="latency" title={parts}>
      {latency.serverMs != null ? <>{label} <b>{Math.round(latency.serverMs)} ms</b> (server)</> : 'no audio'}
      {latency.heardMs != null && <> · heard after <b>{latency.heardMs} ms</b></>}
      {parts && <span className="latency-detail"> · {parts} ms</span>}
    </div>
  );
}

export function Errors() {
  const errors = useStore((s) => s.errors);
  const dismiss = (id: number) => useStore.setState((s) => ({ errors: s.errors.filter((e) => e.id !== id) }));
  if (errors.length === 0) return null;
  return (
    <div className="errors" data-testid="errors" role="alert">
      {errors.map((e) => (
        <div key={e.id} className="error">
          <b>{e.code}</b> {e.message}
          <button type="button" aria-label="dismiss" onClick={() => dismiss(e.id)}>×</button>
        </div>
      ))}
    </div>
  );
}
