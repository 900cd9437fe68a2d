import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { Conversation } from './conversation/controller';
import { installTestHook, testing } from './testing/hook';
import './styles.css';

const conversation = new Conversation();
if (testing) installTestHook(conversation);
conversation.start();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App conversation={conversation} />
  </StrictMode>,
);
