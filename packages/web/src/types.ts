/** The shapes the twin's API answers with (see the twin's routes and the API contract). */

export interface Me {
  twin: number;
  name: string;
  /** Present when the twin tells them (newer twins). */
  key?: string;
  signingKey?: string;
  encryptionKey?: string;
  addresses?: string[];
  yggdrasil?: string | null;
}

export type MessageState = 'sending' | 'delivered' | 'read' | 'received';

export interface Attachment {
  file: string;
  name: string;
  size: number;
  mime: string;
  thumbnail?: boolean;
}

export interface Message {
  seq: number;
  id: string;
  chat: string;
  author: number;
  sent: number;
  text: string;
  replyTo: string | null;
  edited: number | null;
  deleted: boolean;
  state: MessageState;
  reactions: Record<string, number[]>;
  attachments?: Attachment[];
}

export interface ChatSummary {
  chat: string;
  twin: number | null;
  name: string | null;
  unread: number;
  last: Message | null;
}

export interface Contact {
  twin: number;
  name: string;
  since: number;
  lastSeen: number | null;
  online: boolean;
}

export interface ContactRequest {
  twin: number;
  direction: 'in' | 'out';
  name: string;
  message: string;
  at: number;
}

export interface Group {
  id: string;
  name: string;
  version: number;
  members: { twin: number; role: 'admin' | 'member' }[];
  by: number;
  at: number;
}

export interface Profile {
  name: string;
  status: string;
  avatar: string;
  updated: number;
}

export interface FileEntry {
  id: string;
  name: string;
  kind: 'file' | 'folder';
  size: number;
  mime: string;
  created: number;
  modified: number;
  shares: { twin: number; mode: 'read' | 'write' }[];
  path?: string;
}

export interface SharedItem {
  owner: number;
  ownerName: string;
  id: string;
  name: string;
  kind: 'file' | 'folder';
  size: number;
  mime: string;
  mode: 'read' | 'write';
  sharedAt: number;
}

export interface Comment {
  id: string;
  author: number;
  authorName: string;
  text: string;
  created: number;
  replyTo?: string;
}

export interface Post {
  id: string;
  author: number;
  authorName: string;
  text: string;
  images: { file: string; name: string; mime: string }[];
  created: number;
  likes: { count: number; mine: boolean };
  comments: Comment[];
}

export interface Storage {
  configured: boolean;
  backends: { address: string; namespace: string; group: string; state: string; used?: number }[];
  objects?: number;
  lastRepair?: number | null;
}

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
      attachments?: Attachment[];
    }
  | { type: 'message.edited'; chat: string; id: string; text: string }
  | { type: 'message.deleted'; chat: string; id: string }
  | { type: 'reaction'; chat: string; id: string; twin: number; emoji: string; on: boolean }
  | { type: 'receipt'; chat: string; id: string; state: 'delivered' | 'read' }
  | { type: 'typing'; chat: string; twin: number }
  | { type: 'group'; id: string; version: number }
  | { type: 'file.shared' | 'file.unshared'; [k: string]: unknown }
  | { type: 'transfer.progress'; id: string; done: number; total: number }
  | { type: 'post.created' | 'post.deleted' | 'post.liked' | 'post.commented'; [k: string]: unknown }
  /** Not from the twin: the app reconnected (or polls) and every screen should reload. */
  | { type: 'refresh' };
