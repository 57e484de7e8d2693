/**
 * One-to-one chat. A chat is named by the other twin's id. Each message is stored on both sides
 * (this twin's store, and the other's) and travels as a one-way bus message: exactly once, in
 * order per sender, across either side being offline or restarted. The author's copy moves
 * sending → delivered (the bus's acknowledgement) → read (the other side's read receipt).
 *
 * Only contacts' chat messages are applied: a stranger's message is refused (the handler throws,
 * so the inbox keeps nothing); a blocked twin's is acknowledged and dropped (it is not told).
 * Edits and deletes are honoured only from a message's author; typing is a bus request, never
 * queued.
 */
import { randomBytes } from 'node:crypto';
import type { DeliveryEvent, InboxMessage, TwinBus } from '@twin/network';
import type { z } from 'zod';
import { TwinError } from '../errors.ts';
import type { Contacts } from './contacts.ts';
import type { EventHub } from './events.ts';
import {
  type Attachment,
  ChatDelete,
  ChatEdit,
  ChatMessage,
  ChatReact,
  ChatRead,
  COMMANDS,
  Empty,
  encode,
  MAX_TEXT,
  parsePayload,
} from './protocol.ts';
import type { Sealer } from './sealer.ts';
import type { ExperienceStore } from './store.ts';
import type { Vault } from './vault.ts';

/** Messages one history page returns at most. */
export const MAX_PAGE = 200;
/** How long a typing notice may take before it is given up (it is never retried). */
export const TYPING_TIMEOUT_MS = 2_000;

export type MessageState = 'sending' | 'delivered' | 'read' | 'received';

export interface Message {
  /** Position in this twin's store: the history cursor. */
  seq: number;
  id: string;
  chat: string;
  author: number;
  sent: number;
  text: string;
  replyTo: string | null;
  edited: number | null;
  deleted: boolean;
  /** The author's view: sending, delivered, read. The reader's: received, read. */
  state: MessageState;
  reactions: Record<string, number[]>;
  /** Files the message carries; fetch another twin's with `GET /api/chats/:twin/attachments/:file`. */
  attachments: (Attachment & { thumbnail: boolean })[];
}

interface Row {
  seq: number;
  id: string;
  chat: string;
  author: number;
  sent: number;
  text: string;
  reply_to: string | null;
  edited: number | null;
  deleted: number;
  state: MessageState;
  reactions: string;
  attachments: string | null;
}

export const toMessage = (r: Row, vault: Vault): Message => ({
  seq: r.seq,
  id: r.id,
  chat: r.chat,
  author: r.author,
  sent: r.sent,
  text: vault.open(r.text),
  replyTo: r.reply_to,
  edited: r.edited,
  deleted: r.deleted === 1,
  state: r.state,
  reactions: JSON.parse(r.reactions) as Record<string, number[]>,
  attachments:
    r.attachments && r.deleted !== 1
      ? (JSON.parse(vault.open(r.attachments)) as Attachment[]).map((a) => ({
          ...a,
          thumbnail: a.thumbnail === true,
        }))
      : [],
});

export interface ChatSummary {
  chat: string;
  /** The other twin of a 1:1 chat; null for a group (chat `g:<id>`). */
  twin: number | null;
  name: string | null;
  unread: number;
  last: Message | null;
}

export class Chat {
  constructor(
    private readonly store: ExperienceStore,
    private readonly bus: TwinBus,
    private readonly contacts: Contacts,
    private readonly events: EventHub,
    private readonly self: number,
    private readonly sealer: Sealer,
  ) {}

  private toMessage(r: Row): Message {
    return toMessage(r, this.store.vault);
  }

  /** Registers the bus handlers and follows deliveries; call before the bus starts. */
  serve(): void {
    this.bus.onMessage(COMMANDS.chatMessage, (m) =>
      this.apply(m, ChatMessage, (p) => this.received(m.from, p), true),
    );
    this.bus.onMessage(COMMANDS.chatEdit, (m) =>
      this.apply(m, ChatEdit, (p) => this.edited(m.from, p), true),
    );
    this.bus.onMessage(COMMANDS.chatDelete, (m) =>
      this.apply(m, ChatDelete, (p) => this.deletedBy(m.from, p.id)),
    );
    this.bus.onMessage(COMMANDS.chatReact, (m) => this.apply(m, ChatReact, (p) => this.reacted(m.from, p)));
    this.bus.onMessage(COMMANDS.chatRead, (m) => this.apply(m, ChatRead, (p) => this.readBy(m.from, p.ids)));
    this.bus.handle(COMMANDS.chatTyping, (payload, { from }) => {
      parsePayload(Empty, payload);
      if (this.contacts.isContact(from))
        this.events.publish({ type: 'typing', chat: String(from), twin: from });
      return encode({});
    });
    this.bus.on('delivery', (e) => this.delivered(e));
  }

  /**
   * Runs inside the inbox transaction. A stranger's message throws (refused, nothing kept); a
   * blocked twin's returns without applying (acknowledged, dropped, the sender not told).
   */
  private apply<T>(m: InboxMessage, schema: z.ZodType<T>, f: (payload: T) => void, sealed = false): void {
    if (this.contacts.isBlocked(m.from)) return;
    if (!this.contacts.isContact(m.from))
      throw new TwinError('not_contact', `twin ${m.from} is not a contact of this twin`);
    const payload = sealed ? this.sealer.open(schema, m.payload) : parsePayload(schema, m.payload);
    this.contacts.seen(m.from);
    f(payload);
  }

  private row(id: string): Row | undefined {
    return this.store.sql('SELECT * FROM messages WHERE id = ?').get(id) as Row | undefined;
  }

  private received(from: number, p: z.infer<typeof ChatMessage>): void {
    if (p.text === '' && !p.attachments?.length) throw new TwinError('bad_request', 'an empty message');
    const chat = String(from);
    const stored = this.store.insertMessage({ ...p, chat, author: from, state: 'received' });
    if (stored)
      this.events.publish({
        type: 'message',
        chat,
        id: p.id,
        author: from,
        text: p.text,
        replyTo: p.replyTo,
        ...(p.attachments?.length ? { attachments: p.attachments } : {}),
      });
  }

  private edited(from: number, p: z.infer<typeof ChatEdit>): void {
    const row = this.row(p.id);
    if (!row || row.author !== from || row.chat !== String(from) || row.deleted) return;
    this.store.setText(p.id, p.text, { edited: Date.now() });
    this.events.publish({ type: 'message.edited', chat: String(from), id: p.id, text: p.text });
  }

  private deletedBy(from: number, id: string): void {
    const row = this.row(id);
    if (!row || row.author !== from || row.chat !== String(from)) return;
    this.store.setText(id, '', { deleted: true });
    this.events.publish({ type: 'message.deleted', chat: String(from), id });
  }

  private react(id: string, chat: string, twin: number, emoji: string, on: boolean): boolean {
    const row = this.row(id);
    if (!row || row.chat !== chat || row.deleted) return false;
    const reactions = JSON.parse(row.reactions) as Record<string, number[]>;
    const who = new Set(reactions[emoji] ?? []);
    if (on) who.add(twin);
    else who.delete(twin);
    if (who.size) reactions[emoji] = [...who].sort((a, b) => a - b);
    else delete reactions[emoji];
    this.store.sql('UPDATE messages SET reactions = ? WHERE id = ?').run(JSON.stringify(reactions), id);
    this.events.publish({ type: 'reaction', chat, id, twin, emoji, on });
    return true;
  }

  private reacted(from: number, p: z.infer<typeof ChatReact>): void {
    this.react(p.id, String(from), from, p.emoji, p.on);
  }

  /** The other twin read these of our messages. */
  private readBy(from: number, ids: string[]): void {
    const mark = this.store.sql(
      "UPDATE messages SET state = 'read' WHERE id = ? AND chat = ? AND author = ? AND state != 'read'",
    );
    for (const id of ids)
      if (mark.run(id, String(from), this.self).changes)
        this.events.publish({ type: 'receipt', chat: String(from), id, state: 'read' });
  }

  /** The bus acknowledged one of our messages. */
  private delivered(e: DeliveryEvent): void {
    if (e.status !== 'delivered') return;
    const row = this.store
      .sql("SELECT id, chat FROM messages WHERE bus_id = ? AND state = 'sending'")
      .get(e.id) as { id: string; chat: string } | undefined;
    if (!row) return;
    this.store.sql("UPDATE messages SET state = 'delivered' WHERE id = ?").run(row.id);
    this.contacts.seen(e.to);
    this.events.publish({ type: 'receipt', chat: row.chat, id: row.id, state: 'delivered' });
  }

  private peer(chat: string | number): number {
    const twin = Number(chat);
    if (!Number.isSafeInteger(twin) || twin <= 0) throw new TwinError('not_found', `no chat ${chat}`);
    return twin;
  }

  private mustBeContact(twin: number): void {
    if (!this.contacts.isContact(twin)) throw new TwinError('not_contact', `twin ${twin} is not a contact`);
  }

  /** Stores our message, then queues it on the bus (a crash in between is resent by `resume`). */
  async send(
    chatRef: string | number,
    text: string,
    replyTo: string | null = null,
    attachments: Attachment[] = [],
  ): Promise<Message> {
    const twin = this.peer(chatRef);
    this.mustBeContact(twin);
    if ((text.length === 0 && attachments.length === 0) || text.length > MAX_TEXT)
      throw new TwinError('too_large', `a message holds 1 to ${MAX_TEXT} characters`);
    const chat = String(twin);
    if (replyTo !== null && this.row(replyTo)?.chat !== chat)
      throw new TwinError('not_found', `no message ${replyTo} in this chat`);
    // Hex, never base64url: an id starting with '-' would read as an option on a command line.
    const id = randomBytes(12).toString('hex');
    const sent = Date.now();
    const files = attachments.length ? attachments : undefined;
    this.store.insertMessage({
      id,
      chat,
      author: this.self,
      sent,
      text,
      replyTo,
      state: 'sending',
      attachments: files,
    });
    await this.queue(twin, id, { id, sent, text, replyTo, ...(files ? { attachments: files } : {}) });
    return this.toMessage(this.row(id)!);
  }

  private async queue(twin: number, id: string, payload: z.infer<typeof ChatMessage>): Promise<void> {
    const busId = await this.bus.send(twin, COMMANDS.chatMessage, await this.sealer.seal(twin, payload));
    this.store.sql('UPDATE messages SET bus_id = ? WHERE id = ?').run(busId, id);
    // The acknowledgement may have come before bus_id was written.
    if (this.mailboxDelivered(busId)) this.delivered({ id: busId, to: twin, status: 'delivered' });
  }

  private mailboxDelivered: (busId: string) => boolean = () => false;

  /** How the bus's outbox reports a message's status (set by the twin, which owns the mailbox). */
  followOutbox(status: (busId: string) => string | null): void {
    this.mailboxDelivered = (busId) => status(busId) === 'delivered';
  }

  /** Queues our messages stored but never handed to the bus (the twin stopped in between). */
  async resume(): Promise<number> {
    const rows = this.store
      .sql(
        "SELECT * FROM messages WHERE author = ? AND state = 'sending' AND bus_id IS NULL AND chat NOT LIKE 'g:%' ORDER BY seq",
      )
      .all(this.self) as Row[];
    let queued = 0;
    for (const r of rows) {
      try {
        await this.queue(Number(r.chat), r.id, {
          id: r.id,
          sent: r.sent,
          text: this.store.vault.open(r.text),
          replyTo: r.reply_to,
          ...(r.attachments
            ? { attachments: JSON.parse(this.store.vault.open(r.attachments)) as Attachment[] }
            : {}),
        });
        queued++;
      } catch {
        // the other twin cannot be looked up now: the next start tries again
      }
    }
    return queued;
  }

  private own(chatRef: string | number, id: string): { twin: number; row: Row } {
    const twin = this.peer(chatRef);
    const row = this.row(id);
    if (!row || row.chat !== String(twin)) throw new TwinError('not_found', `no message ${id} in this chat`);
    if (row.author !== this.self) throw new TwinError('denied', 'only its author changes a message');
    if (row.deleted) throw new TwinError('not_found', `message ${id} was deleted`);
    return { twin, row };
  }

  async edit(chatRef: string | number, id: string, text: string): Promise<Message> {
    if (text.length === 0 || text.length > MAX_TEXT)
      throw new TwinError('too_large', `a message holds 1 to ${MAX_TEXT} characters`);
    const { twin } = this.own(chatRef, id);
    this.mustBeContact(twin);
    this.store.setText(id, text, { edited: Date.now() });
    await this.bus.send(twin, COMMANDS.chatEdit, await this.sealer.seal(twin, { id, text }));
    return this.toMessage(this.row(id)!);
  }

  /** Deletes our message for everyone: its text is gone from both stores. */
  async delete(chatRef: string | number, id: string): Promise<void> {
    const { twin } = this.own(chatRef, id);
    this.store.setText(id, '', { deleted: true });
    if (this.contacts.isContact(twin)) await this.bus.send(twin, COMMANDS.chatDelete, encode({ id }));
  }

  async reactTo(chatRef: string | number, id: string, emoji: string, on: boolean): Promise<Message> {
    const twin = this.peer(chatRef);
    this.mustBeContact(twin);
    if (!this.react(id, String(twin), this.self, emoji, on))
      throw new TwinError('not_found', `no message ${id} in this chat`);
    await this.bus.send(twin, COMMANDS.chatReact, encode({ id, emoji, on }));
    return this.toMessage(this.row(id)!);
  }

  /** Marks a chat's received messages read, sending no receipts (groups); returns their ids. */
  markReadOf(chat: string): string[] {
    const ids = (
      this.store
        .sql("SELECT id FROM messages WHERE chat = ? AND state = 'received' ORDER BY seq")
        .all(chat) as { id: string }[]
    ).map((r) => r.id);
    this.store.sql("UPDATE messages SET state = 'read' WHERE chat = ? AND state = 'received'").run(chat);
    return ids;
  }

  /** Marks every received message of the chat read and sends the receipts. Returns how many. */
  async markRead(chatRef: string | number): Promise<number> {
    const twin = this.peer(chatRef);
    const ids = (
      this.store
        .sql("SELECT id FROM messages WHERE chat = ? AND state = 'received' ORDER BY seq")
        .all(String(twin)) as { id: string }[]
    ).map((r) => r.id);
    if (ids.length === 0) return 0;
    this.store
      .sql("UPDATE messages SET state = 'read' WHERE chat = ? AND state = 'received'")
      .run(String(twin));
    if (this.contacts.isContact(twin))
      for (let i = 0; i < ids.length; i += 1000)
        await this.bus.send(twin, COMMANDS.chatRead, encode({ ids: ids.slice(i, i + 1000) }));
    return ids.length;
  }

  /** Tells the other twin we are typing; dropped when it cannot be told now. */
  async typing(chatRef: string | number): Promise<boolean> {
    const twin = this.peer(chatRef);
    this.mustBeContact(twin);
    try {
      await this.bus.request(twin, COMMANDS.chatTyping, encode({}), { timeoutMs: TYPING_TIMEOUT_MS });
      return true;
    } catch {
      return false;
    }
  }

  /** A page of history, newest first, before `before` (a seq from a previous page). */
  history(
    chatRef: string | number,
    before?: number,
    limit = 50,
  ): { messages: Message[]; before: number | null } {
    return this.historyOf(String(this.peer(chatRef)), before, limit);
  }

  /** A page of any chat's history by its key (a twin id, or `g:<group>`). */
  historyOf(chat: string, before?: number, limit = 50): { messages: Message[]; before: number | null } {
    const n = Math.min(Math.max(1, limit), MAX_PAGE);
    const rows = this.store
      .sql('SELECT * FROM messages WHERE chat = ? AND seq < ? ORDER BY seq DESC LIMIT ?')
      .all(chat, before ?? Number.MAX_SAFE_INTEGER, n) as Row[];
    return {
      messages: rows.map((r) => this.toMessage(r)),
      before: rows.length === n ? rows[rows.length - 1]!.seq : null,
    };
  }

  /** Whether a message in `chat` (a twin id, or `g:<group>`) by `author` carries file `file`. */
  carries(chat: string, author: number, file: string): boolean {
    return this.store.carries(chat, author, file);
  }

  message(id: string): Message {
    const row = this.row(id);
    if (!row) throw new TwinError('not_found', `no message ${id}`);
    return this.toMessage(row);
  }

  /** Full-text search over this twin's messages: each word of the query must appear (whole words). */
  search(query: string, limit = 50): Message[] {
    const bySeq = this.store.sql('SELECT * FROM messages WHERE seq = ?');
    return this.store
      .search(query, Math.min(Math.max(1, limit), MAX_PAGE))
      .map((seq) => bySeq.get(seq) as Row | undefined)
      .filter((r): r is Row => r !== undefined)
      .map((r) => this.toMessage(r));
  }

  /** Every chat with its unread count and last message. */
  list(): ChatSummary[] {
    const chats = this.store
      .sql(
        `SELECT chat, max(seq) AS last, sum(CASE WHEN state = 'received' THEN 1 ELSE 0 END) AS unread
         FROM messages GROUP BY chat ORDER BY last DESC`,
      )
      .all() as { chat: string; last: number; unread: number }[];
    const names = new Map(this.contacts.list().map((c) => [c.twin, c.name]));
    const bySeq = this.store.sql('SELECT * FROM messages WHERE seq = ?');
    const group = this.store.sql('SELECT state FROM groups WHERE id = ?');
    const nameOf = (chat: string) => {
      if (!chat.startsWith('g:')) return names.get(Number(chat)) ?? null;
      const row = group.get(chat.slice(2)) as { state: string } | undefined;
      return row ? (JSON.parse(this.store.vault.open(row.state)) as { name: string }).name : null;
    };
    return chats.map((c) => ({
      chat: c.chat,
      twin: c.chat.startsWith('g:') ? null : Number(c.chat),
      name: nameOf(c.chat),
      unread: c.unread,
      last: this.toMessage(bySeq.get(c.last) as Row),
    }));
  }
}
