import { useEffect } from 'react';
import { Stage } from './avatar/Stage';
import { CreateButton, CreatePanel } from './create/CreatePanel';
import type { Conversation } from './conversation/controller';
import { useStore } from './state/store';
import { ChatLog, Composer } from './ui/Chat';
import { ConversationContext } from './ui/context';
import { Settings } from './ui/Settings';
import {
  AnswerLanguageNote, CharacterPicker, ConnectionState, Errors, LatencyReadout,
} from './ui/StatusBar';

/** Space bar = push-to-talk (when that mode is on and no text field has the focus). */
function usePushToTalkKey(c: Conversation): void {
  useEffect(() => {
    const typing = (e: KeyboardEvent) => e.target instanceof HTMLInputElement
      || e.target instanceof HTMLTextAreaElement || e.target instanceof HTMLSelectElement;
    const down = (e: KeyboardEvent) => {
      if (e.code !== 'Space' || e.repeat || typing(e) || !useStore.getState().settings.pushToTalk) return;
      e.preventDefault();
      void c.pttDown();
    };
    const up = (e: KeyboardEvent) => {
      if (e.code === 'Space' && useStore.getState().pttHeld) c.pttUp();
    };
    window.addEventListener('keydown', down);
    window.addEventListener('keyup', up);
    return () => {
      window.removeEventListener('keydown', down);
      window.removeEventListener('keyup', up);
    };
  }, [c]);
}

export function App({ conversation }: { conversation: Conversation }) {
  usePushToTalkKey(conversation);
  const avatarError = useStore((s) => (s.avatar.status === 'error' ? s.avatar.message : null));
  return (
    <ConversationContext.Provider value={conversation}>
      <div className="app">
        <header className="topbar">
          <ConnectionState />
          <CharacterPicker />
          <LatencyReadout />
          <CreateButton />
        </header>
        <main className="stage">
          <Stage conversation={conversation} />
          {avatarError && <div className="stage-note">The avatar could not be loaded: {avatarError}</div>}
          <CreatePanel />
        </main>
        <aside className="panel">
          <AnswerLanguageNote />
          <ChatLog />
          <Composer />
          <Settings />
        </aside>
        <Errors />
      </div>
    </ConversationContext.Provider>
  );
}
