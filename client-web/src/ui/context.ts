import { createContext, useContext } from 'react';
import type { Conversation } from '../conversation/controller';

export const ConversationContext = createContext<Conversation | null>(null);

export function useConversation(): Conversation {
  const c = useContext(ConversationContext);
  if (!c) throw new Error('no Conversation in context');
  return c;
}
