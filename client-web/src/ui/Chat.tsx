/**
 * The chat log (answers stream in; replay per answer) and the composer (text, stop, microphone).
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useStore, type ChatMessage } from '../state/store';
import { useConversation } from './context';
import { MicIcon, SpeakerIcon, StopIcon } from './icons';

function AssistantText({ m }: { m: ChatMessage }) {
  if (m.status === 'interrupted' && m.heardText !== undefined && m.text.startsWith(m.heardText)) {
    return (
      <>
        {m.heardText}
        <span className="unheard" title="not heard: interrupted">{m.text.slice(m.heardText.length)}</span>
      </>
    );
  }
  return <>{m.text || (m.status === 'streaming' ? '…' : '')}</>;
}

function Message({ m }: { m: ChatMessage }) {
  const c = useConversation();
  const audioOn = useStore((s) => s.settings.audioOn);
  const linkOpen = useStore((s) => s.link.state === 'open');
  if (m.role === 'note') return <div className="msg msg-note" data-testid="msg-note">{m.text}</div>;
  if (m.role === 'user') {
    return (
      <div className="msg msg-user" data-testid="msg-user" data-source={m.source}>
        {m.source === 'voice' && <span className="badge" title="spoken"><MicIcon /></span>}
        {m.text}
      </div>
    );
  }
  const canReplay = m.responseId !== undefined && m.status !== 'streaming' && m.text !== '' && audioOn && linkOpen;
  return (
    <div className={`msg msg-assistant status-${m.status ?? ''}`} data-testid="msg-assistant"
         data-status={m.status} data-response-id={m.responseId}>
      <AssistantText m={m} />
      {m.status === 'interrupted' && <span className="badge" title="interrupted"> <StopIcon /></span>}
      {m.error && <div className="msg-error">{m.error}</div>}
      <div className="msg-meta">
        {canReplay && (
          <button type="button" className="replay" data-testid="replay" title="Speak this answer"
                  onClick={() => c.speak(m.id, m.responseId!)}><SpeakerIcon /> play</button>
        )}
        {m.latency?.serverMs != null && <span>{Math.round(m.latency.serverMs)} ms to first audio</span>}
      </div>
    </div>
  );
}

export function ChatLog() {
  const messages = useStore((s) => s.messages);
  const partial = useStore((s) => s.partialTranscript);
  const end = useRef<HTMLDivElement>(null);
  useEffect(() => {
    end.current?.scrollIntoView({ block: 'end' });
  }, [messages, partial]);
  return (
    <div className="chat-log" data-testid="messages" aria-live="polite">
      {messages.length === 0 && (
        <div className="msg msg-note">Say hello — type below, or turn on the microphone and talk.</div>
      )}
      {messages.map((m) => <Message key={m.id} m={m} />)}
      {partial && <div className="msg msg-user partial">{partial}…</div>}
      <div ref={end} />
    </div>
  );
}

function MicButton() {
  const c = useConversation();
  const mic = useStore((s) => s.mic);
  const level = useStore((s) => s.micLevel);
  const ptt = useStore((s) => s.settings.pushToTalk);
  const held = useStore((s) => s.pttHeld);
  const on = mic.state === 'on';
  const blocked = mic.state === 'denied' || mic.state === 'unsupported' || mic.state === 'no-device';
  return (
    <div className="mic">
      {ptt ? (
        <button type="button" data-testid="ptt" className={`btn mic-btn ${held ? 'active' : ''}`}
                disabled={blocked}
                onPointerDown={(e) => { e.preventDefault(); void c.pttDown(); }}
                onPointerUp={() => c.pttUp()} onPointerLeave={() => c.pttUp()}
                title="Hold to talk (or hold the space bar)">
          <MicIcon /> {held ? 'Release to send' : 'Hold to talk'}
        </button>
      ) : (
        <button type="button" data-testid="mic" className={`btn mic-btn ${on ? 'active' : ''}`}
                disabled={blocked || mic.state === 'requesting'}
                onClick={() => (on ? c.stopMic() : void c.startMic())}>
          <MicIcon /> {on ? 'Mic on' : 'Start mic'}
        </button>
      )}
      <div className="meter" data-testid="mic-level" title="microphone level">
        <div className="meter-fill" style={{ width: `${Math.round(level * 100)}%` }} />
      </div>
      {mic.message && <div className="mic-note" data-testid="mic-note" data-mic-state={mic.state}>
        {mic.state === 'denied' ? 'Microphone blocked — typed chat still works.' : mic.message}
      </div>}
    </div>
  );
}

export function Composer() {
  const c = useConversation();
  const [text, setText] = useState('');
  const busy = useStore((s) => s.activeResponseId !== null || s.activity === 'speaking');
  const open = useStore((s) => s.link.state === 'open');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!text.trim()) return;
    c.sendText(text);
    setText('');
  };
  return (
    <form className="composer" onSubmit={submit}>
      <input data-testid="chat-input" value={text} onChange={(e) => setText(e.target.value)}
             placeholder={open ? 'Type a message…' : 'Waiting for the server…'} maxLength={2000}
             aria-label="message" />
      <button type="submit" className="btn primary" data-testid="send" disabled={!text.trim()}>Send</button>
      <button type="button" className="btn" data-testid="stop" disabled={!busy} onClick={() => c.cancel()}
              title="Stop the answer"><StopIcon /> Stop</button>
      <MicButton />
    </form>
  );
}
