/**
 * Group chats without a single point of failure. A group's membership is a versioned state
 * (name, members with roles admin/member) that every member holds. A change is made by one
 * member, who sends the new state to every member of the old and the new state as a one-way bus
 * message signed by its key (the inbox keeps the signature). A member applies a state when:
 * it signer is an admin of the state the member holds (or, only to remove itself, any member —
 * that is leaving), its version is higher, or equal with a lower hash (so members converge when
 * changes race). A twin hears of a new group only from a contact. A message fans out from its
 * sender to every member directly, so the group works while any member, admins included, is
 * offline; a member applies group messages only from members of the state it holds, and a
 * removed member is sent nothing once the sender holds the state without it.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { DeliveryEvent, InboxMessage, TwinBus } from '@twin/network';
import { TwinError } from '../errors.ts';
import type { Contacts } from './contacts.ts';
import type { EventHub } from './events.ts';
import {
  type Attachment,
  COMMANDS,
  encode,
  GroupMessage,
  GroupState,
  MAX_GROUP_MEMBERS,
  MAX_TEXT,
  parsePayload,
} from './protocol.ts';
import type { Sealer } from './sealer.ts';
import type { ExperienceStore } from './store.ts';

export const groupChat = (id: string) => `g:${id}`;

const digest = (s: GroupState) => createHash('sha256').update(JSON.stringify(s)).digest('hex');

export class Groups {
  constructor(
    private readonly store: ExperienceStore,
    private readonly bus: TwinBus,
    private readonly contacts: Contacts,
    private readonly events: EventHub,
    private readonly self: number,
    /** The bus outbox's status of a message (an acknowledgement may come before we noted its id). */
    private readonly outboxStatus: (busId: string) => string | null,
    private readonly sealer: Sealer,
  ) {}

  serve(): void {
    this.bus.onMessage(COMMANDS.groupState, (m) => this.receivedState(m));
    this.bus.onMessage(COMMANDS.groupMessage, (m) => this.receivedMessage(m));
    this.bus.on('delivery', (e) => this.delivered(e));
  }

  get(id: string): GroupState | null {
    const row = this.store.sql('SELECT state FROM groups WHERE id = ?').get(id) as
      | { state: string }
      | undefined;
    return row ? (JSON.parse(this.store.vault.open(row.state)) as GroupState) : null;
  }

  list(): GroupState[] {
    return (this.store.sql('SELECT state FROM groups ORDER BY id').all() as { state: string }[]).map(
      (r) => JSON.parse(this.store.vault.open(r.state)) as GroupState,
    );
  }

  private save(s: GroupState): void {
    this.store
      .sql(
        'INSERT INTO groups (id, state) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET state = excluded.state',
      )
      .run(s.id, this.store.vault.seal(JSON.stringify(s)));
  }

  /** Whether `next`, signed by `from`, may replace `cur` (see the module comment). */
  private acceptable(cur: GroupState | null, next: GroupState, from: number): boolean {
    if (next.by !== from) return false;
    if (cur === null) return this.contacts.isContact(from) && next.members.some((m) => m.twin === this.self);
    if (next.version < cur.version) return false;
    if (next.version === cur.version && digest(next) >= digest(cur)) return false;
    const role = cur.members.find((m) => m.twin === from)?.role;
    if (role === 'admin') return true;
    // A member may only leave: the same group without itself.
    const without = cur.members.filter((m) => m.twin !== from);
    return (
      role === 'member' && next.name === cur.name && JSON.stringify(next.members) === JSON.stringify(without)
    );
  }

  private receivedState(m: InboxMessage): void {
    if (this.contacts.isBlocked(m.from)) return;
    const next = parsePayload(GroupState, m.payload);
    const cur = this.get(next.id);
    if (!this.acceptable(cur, next, m.from)) {
      // An older or equal state arriving late is normal when changes race; a forged one is refused.
      if (cur && next.by === m.from && cur.members.some((x) => x.twin === m.from && x.role === 'admin'))
        return;
      throw new TwinError('denied', `twin ${m.from} may not change group ${next.id}`);
    }
    this.save(next);
    this.events.publish({ type: 'group', id: next.id, version: next.version });
  }

  private receivedMessage(m: InboxMessage): void {
    if (this.contacts.isBlocked(m.from)) return;
    const p = this.sealer.open(GroupMessage, m.payload);
    if (p.text === '' && !p.attachments?.length) throw new TwinError('bad_request', 'an empty message');
    const g = this.get(p.group);
    if (!g?.members.some((x) => x.twin === m.from) || !g.members.some((x) => x.twin === this.self))
      throw new TwinError('not_contact', `twin ${m.from} is not a member of group ${p.group}`);
    const chat = groupChat(p.group);
    const stored = this.store.insertMessage({
      id: p.id,
      chat,
      author: m.from,
      sent: p.sent,
      text: p.text,
      replyTo: p.replyTo,
      state: 'received',
      attachments: p.attachments,
    });
    if (stored)
      this.events.publish({
        type: 'message',
        chat,
        id: p.id,
        author: m.from,
        text: p.text,
        replyTo: p.replyTo,
        ...(p.attachments?.length ? { attachments: p.attachments } : {}),
      });
  }

  /** A group message is delivered once every member acknowledged it. */
  private delivered(e: DeliveryEvent): void {
    if (e.status !== 'delivered') return;
    const row = this.store.sql('SELECT message FROM group_deliveries WHERE bus_id = ?').get(e.id) as
      | { message: string }
      | undefined;
    if (!row) return;
    this.store.sql('DELETE FROM group_deliveries WHERE bus_id = ?').run(e.id);
    const left = this.store.sql('SELECT 1 FROM group_deliveries WHERE message = ?').get(row.message);
    if (left) return;
    const msg = this.store
      .sql("UPDATE messages SET state = 'delivered' WHERE id = ? AND state = 'sending' RETURNING chat")
      .get(row.message) as { chat: string } | undefined;
    if (msg) this.events.publish({ type: 'receipt', chat: msg.chat, id: row.message, state: 'delivered' });
  }

  private must(id: string): GroupState {
    const g = this.get(id);
    if (!g) throw new TwinError('not_found', `no group ${id}`);
    return g;
  }

  private admin(g: GroupState): void {
    if (!g.members.some((m) => m.twin === this.self && m.role === 'admin'))
      throw new TwinError('denied', `only an admin changes group ${g.name}`);
  }

  /** Stores a new state and sends it to every member of the old and the new one. */
  private async publish(prev: GroupState | null, next: GroupState): Promise<GroupState> {
    this.save(next);
    const to = new Set([...(prev?.members ?? []), ...next.members].map((m) => m.twin));
    to.delete(this.self);
    const payload = encode(next);
    for (const twin of to) await this.bus.send(twin, COMMANDS.groupState, payload);
    this.events.publish({ type: 'group', id: next.id, version: next.version });
    return next;
  }

  private change(g: GroupState, members: GroupState['members'], name = g.name): GroupState {
    return { ...g, name, members, version: g.version + 1, by: this.self, at: Date.now() };
  }

  async create(name: string, members: number[]): Promise<GroupState> {
    const unique = [...new Set(members)].filter((t) => t !== this.self);
    for (const t of unique)
      if (!this.contacts.isContact(t)) throw new TwinError('not_contact', `twin ${t} is not a contact`);
    if (unique.length + 1 > MAX_GROUP_MEMBERS)
      throw new TwinError('too_large', `at most ${MAX_GROUP_MEMBERS} members`);
    const g: GroupState = {
      id: randomBytes(16).toString('hex'),
      name,
      version: 1,
      members: [
        { twin: this.self, role: 'admin' },
        ...unique.map((twin) => ({ twin, role: 'member' as const })),
      ],
      by: this.self,
      at: Date.now(),
    };
    return this.publish(null, g);
  }

  async add(id: string, twin: number, role: 'admin' | 'member' = 'member'): Promise<GroupState> {
    const g = this.must(id);
    this.admin(g);
    if (!this.contacts.isContact(twin)) throw new TwinError('not_contact', `twin ${twin} is not a contact`);
    if (g.members.some((m) => m.twin === twin))
      throw new TwinError('bad_request', `twin ${twin} is already a member`);
    return this.publish(g, this.change(g, [...g.members, { twin, role }]));
  }

  async remove(id: string, twin: number): Promise<GroupState> {
    const g = this.must(id);
    this.admin(g);
    if (!g.members.some((m) => m.twin === twin))
      throw new TwinError('not_found', `twin ${twin} is not a member`);
    const members = g.members.filter((m) => m.twin !== twin);
    if (!members.some((m) => m.role === 'admin'))
      throw new TwinError('bad_request', 'a group keeps at least one admin');
    return this.publish(g, this.change(g, members));
  }

  async rename(id: string, name: string): Promise<GroupState> {
    const g = this.must(id);
    this.admin(g);
    return this.publish(g, this.change(g, g.members, name));
  }

  async leave(id: string): Promise<void> {
    const g = this.must(id);
    const members = g.members.filter((m) => m.twin !== this.self);
    if (members.length > 0 && !members.some((m) => m.role === 'admin'))
      throw new TwinError('bad_request', 'the last admin makes another member admin before leaving');
    await this.publish(g, this.change(g, members));
    this.store.sql('DELETE FROM groups WHERE id = ?').run(id);
  }

  /** Stores our message and sends it to every other member. */
  async send(
    id: string,
    text: string,
    replyTo: string | null = null,
    attachments: Attachment[] = [],
  ): Promise<{ id: string; chat: string }> {
    const g = this.must(id);
    if (!g.members.some((m) => m.twin === this.self))
      throw new TwinError('denied', 'not a member of this group');
    if ((text.length === 0 && attachments.length === 0) || text.length > MAX_TEXT)
      throw new TwinError('too_large', `a message holds 1 to ${MAX_TEXT} characters`);
    const chat = groupChat(id);
    const msg = {
      group: id,
      id: randomBytes(12).toString('hex'),
      sent: Date.now(),
      text,
      replyTo,
      ...(attachments.length ? { attachments } : {}),
    };
    this.store.insertMessage({ ...msg, chat, author: this.self, state: 'sending' });
    for (const m of g.members) {
      if (m.twin === this.self) continue;
      const busId = await this.bus.send(m.twin, COMMANDS.groupMessage, await this.sealer.seal(m.twin, msg));
      this.store.sql('INSERT INTO group_deliveries (bus_id, message) VALUES (?, ?)').run(busId, msg.id);
      if (this.outboxStatus(busId) === 'delivered')
        this.delivered({ id: busId, to: m.twin, status: 'delivered' });
    }
    return { id: msg.id, chat };
  }
}
