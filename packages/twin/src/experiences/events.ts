/**
 * What the twin tells its local clients (the web app, `twin chat --follow`) as it happens: every
 * event is one JSON object with a `type`, pushed on the API's WebSocket.
 */
import { EventEmitter } from 'node:events';

export type TwinEvent =
  | { type: 'contact.request'; twin: number; name: string; message: string }
  | { type: 'contact.accepted'; twin: number; name: string }
  | { type: 'contact.declined'; twin: number }
  | { type: 'contact.removed'; twin: number }
  | { type: 'profile'; twin: number }
  | { type: 'presence'; twin: number; online: boolean; lastSeen: number }
  | {
      type: 'message';
      chat: string;
      id: string;
      author: number;
      text: string;
      replyTo: string | null;
      attachments?: { file: string; name: string; size: number; mime: string }[];
    }
  | { type: 'message.edited'; chat: string; id: string; text: string }
  | { type: 'message.deleted'; chat: string; id: string }
  | { type: 'reaction'; chat: string; id: string; twin: number; emoji: string; on: boolean }
  | { type: 'receipt'; chat: string; id: string; state: 'delivered' | 'read' }
  | { type: 'typing'; chat: string; twin: number }
  | { type: 'group'; id: string; version: number }
  /** On the owner's side `twin` is the grantee; on the grantee's, the owner (`owner` tells which). */
  | { type: 'file.shared'; id: string; owner: number; twin: number; mode: 'read' | 'write' }
  | { type: 'file.unshared'; id: string; owner: number; twin: number }
  | { type: 'transfer.progress'; id: string; done: number; total: number }
  | { type: 'transfer.resumed'; id: string; chunk: number; attempt: number }
  | { type: 'post.created'; author: number; id: string }
  | { type: 'post.deleted'; author: number; id: string }
  | { type: 'post.liked'; author: number; id: string; twin: number; on: boolean }
  | { type: 'post.commented'; author: number; id: string; comment: string; twin: number };

export class EventHub extends EventEmitter<{ event: [TwinEvent] }> {
  /** Emits after the current transaction (handlers run inside the inbox's): listeners see committed state. */
  publish(e: TwinEvent): void {
    setImmediate(() => this.emit('event', e));
  }
}
