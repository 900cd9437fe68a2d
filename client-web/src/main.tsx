import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { Conversation } from './conversation/controller';
import { installTestHook, testing } from './testing/hook';
import './styles.css';
import { installFonts } from './ui/fonts';

installFonts();

const root = createRoot(document.getElementById('root')!);

if (window.location.pathname.replace(/\/+$/, '') === '/operator') {
  // the GPU operator view: no conversation (its WebSocket would be a live signal to the GPU host)
  void import('./operator/Operator').then(({ Operator }) => {
    root.render(<StrictMode><Operator /></StrictMode>);
  });
} else {
  const conversation = new Conversation();
  if (testing) installTestHook(conversation);
  conversation.start();
  root.render(
    <StrictMode>
      <App conversation={conversation} />
    </StrictMode>,
  );
}
