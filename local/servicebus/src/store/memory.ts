// The in-memory store: nothing survives the process, so every change is "durable" at once.
import type { EntityRecord, MessageRecord, MessageStore, StoreSnapshot } from './store.js';

export class MemoryStore implements MessageStore {
  readonly persistent = false;

  load(): StoreSnapshot {
    return { entities: [], messages: [], sequences: new Map(), messageIds: [], sessionStates: [] };
  }
  saveEntity(_record: EntityRecord): void {}
  deleteEntity(): void {}
  insertMessage(_record: MessageRecord): void {}
  updateMessage(_record: MessageRecord): void {}
  deleteMessage(): void {}
  setSequence(): void {}
  rememberMessageId(): void {}
  forgetMessageIds(): void {}
  setSessionState(): void {}
  afterCommit(done: (error?: Error) => void): void {
    done();
  }
  close(): void {}
}
