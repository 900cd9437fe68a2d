/**
 * What the server-event handlers (./events.ts) read and change of a conversation: the
 * narrow interface `Conversation` (./controller.ts) implements, so the handlers do not depend
 * on the controller.
 */
import type { AudioPlayer } from '../audio/player';
import type { Performance } from '../lipsync/performance';
import type { ClientMessage } from '../protocol/codec';
import type { SessionUpdate } from '../protocol/generated';

export interface ConversationState {
  readonly player: AudioPlayer;
  readonly performance: Performance;
  /** Responses whose audio must not play any more (interrupted, cancelled, superseded). */
  readonly ignored: Set<number>;
  /** Per response: performance.now() its latency is measured from (send / end of speech). */
  readonly origins: Map<number, number | null>;
  /** Typed messages sent and not yet answered by response.started (wall ms). */
  readonly pendingTexts: number[];
  readonly counters: {
    marksSent: number;
    micFramesSent: number;
    events: Record<string, number>;
    audioDone: Record<number, number>;
  };
  speechStoppedAt: number | null;
  pendingSpeak: string | null;
  speakResponse: number | null;
  userSpeaking: boolean;
  awaitingResponse: boolean;
  hadSession: boolean;
  resumeId: string | null;
  resuming: boolean;
  send(msg: ClientMessage): boolean;
  silence(): void;
  sessionUpdate(): SessionUpdate | null;
  loadCharacters(): Promise<void>;
  showCharacterAvatar(): void;
}
