/**
 * Contacts: find a twin by name (the phonebook's verified record), ask it to become a contact with
 * a short message, accept / decline / ignore what others ask, remove, block and unblock.
 *
 * A contact request is a bus request, answered at once: the requester learns `received` or
 * `rate_limited` (never `blocked`: a blocked twin's request gets the same answer as any other and
 * is dropped). Acceptance, decline and removal are one-way messages (delivered exactly once, even
 * to a twin offline now). The sender's name is always the one its verified phonebook record
 * holds, never one written in a payload.
 */
import type { InboxMessage, TwinBus } from '@twin/network';
import { TwinError } from '../errors.ts';
import type { EventHub } from './events.ts';
import { COMMANDS, ContactRequest, ContactRequestAnswer, Empty, encode, parsePayload } from './protocol.ts';
import type { ExperienceStore } from './store.ts';

/** Contact requests one sender may make at once … */
export const REQUEST_BURST = 3;
/** … and then one more per this interval. */
export const REQUEST_REFILL_MS = 10 * 60_000;
/** Senders whose request budget is remembered (the oldest is forgotten first). */
export const MAX_TRACKED_SENDERS = 10_000;
/** Pending incoming requests kept at most; past it, new senders are refused with `rate_limited`. */
export const MAX_PENDING_REQUESTS = 1_000;
/** How long a contact is shown online after the last thing heard from it. */
export const ONLINE_WINDOW_MS = 2 * 60_000;

export interface Contact {
  twin: number;
  name: string;
  since: number;
  lastSeen: number | null;
  online: boolean;
}

export interface ContactRequestRow {
  twin: number;
  direction: 'in' | 'out';
  name: string;
  message: string;
  at: number;
}

/** Told whenever the set of contacts changes (the profile's ACL follows it). */
export type ContactsListener = (twin: number, isContact: boolean) => void;

export class Contacts {
  private readonly budgets = new Map<number, { tokens: number; at: number }>();
  private readonly listeners: ContactsListener[] = [];

  constructor(
    private readonly store: ExperienceStore,
    private readonly bus: TwinBus,
    private readonly events: EventHub,
    /** This twin's own id. */
    private readonly self: number,
  ) {}

  onChange(listener: ContactsListener): void {
    this.listeners.push(listener);
  }

  private changed(twin: number, isContact: boolean): void {
    for (const l of this.listeners) l(twin, isContact);
  }

  /** Registers the bus handlers; call before the bus starts. */
  serve(): void {
    this.bus.handle(COMMANDS.contactRequest, async (payload, { from }) =>
      encode(await this.received(from, parsePayload(ContactRequest, payload).message)),
    );
    this.bus.onMessage(COMMANDS.contactAccepted, (m) => this.accepted(m));
    this.bus.onMessage(COMMANDS.contactDeclined, (m) => {
      parsePayload(Empty, m.payload);
      if (this.store.sql("DELETE FROM requests WHERE twin = ? AND direction = 'out'").run(m.from).changes)
        this.events.publish({ type: 'contact.declined', twin: m.from });
    });
    this.bus.onMessage(COMMANDS.contactRemoved, (m) => {
      parsePayload(Empty, m.payload);
      if (this.store.sql('DELETE FROM contacts WHERE twin = ?').run(m.from).changes) {
        this.changed(m.from, false);
        this.events.publish({ type: 'contact.removed', twin: m.from });
      }
    });
  }

  isContact(twin: number): boolean {
    return this.store.sql('SELECT 1 FROM contacts WHERE twin = ?').get(twin) !== undefined;
  }

  isBlocked(twin: number): boolean {
    return this.store.sql('SELECT 1 FROM blocked WHERE twin = ?').get(twin) !== undefined;
  }

  /** Notes that `twin` was heard from (presence). */
  seen(twin: number): void {
    const now = Date.now();
    const row = this.store.sql('SELECT last_seen FROM contacts WHERE twin = ?').get(twin) as
      | { last_seen: number | null }
      | undefined;
    if (!row) return;
    this.store.sql('UPDATE contacts SET last_seen = ? WHERE twin = ?').run(now, twin);
    if (row.last_seen === null || now - row.last_seen > ONLINE_WINDOW_MS)
      this.events.publish({ type: 'presence', twin, online: true, lastSeen: now });
  }

  list(): Contact[] {
    const now = Date.now();
    return (
      this.store.sql('SELECT twin, name, since, last_seen FROM contacts ORDER BY name').all() as {
        twin: number;
        name: string;
        since: number;
        last_seen: number | null;
      }[]
    ).map((r) => ({
      twin: r.twin,
      name: r.name,
      since: r.since,
      lastSeen: r.last_seen,
      online: r.last_seen !== null && now - r.last_seen < ONLINE_WINDOW_MS,
    }));
  }

  requests(): ContactRequestRow[] {
    return (
      this.store
        .sql('SELECT twin, direction, name, message, at FROM requests ORDER BY at DESC')
        .all() as ContactRequestRow[]
    ).map((r) => ({ ...r, message: this.store.vault.open(r.message) }));
  }

  blocked(): { twin: number; name: string; at: number }[] {
    return this.store.sql('SELECT twin, name, at FROM blocked ORDER BY at').all() as {
      twin: number;
      name: string;
      at: number;
    }[];
  }

  /**
   * A twin by id or name: a contact's or requester's id is known locally; any other name is looked
   * up in the phonebook (verified). TwinError `not_found`.
   */
  async resolve(ref: string | number): Promise<{ twin: number; name: string }> {
    const id = typeof ref === 'number' ? ref : /^\d+$/.test(ref) ? Number(ref) : null;
    const local = this.store
      .sql(
        `SELECT twin, name FROM contacts WHERE twin = @id OR name = @name
         UNION ALL SELECT twin, name FROM requests WHERE twin = @id OR name = @name
         UNION ALL SELECT twin, name FROM blocked WHERE twin = @id OR name = @name LIMIT 1`,
      )
      .get({ id, name: typeof ref === 'string' ? ref : null }) as { twin: number; name: string } | undefined;
    if (local) return local;
    try {
      const r = await this.bus.phonebookTwin(id ?? ref);
      return { twin: r.id, name: r.name };
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'unknown_twin') throw new TwinError('not_found', `no twin named ${ref} in the phonebook`);
      throw new TwinError('unreachable', `the phonebook cannot be reached: ${(e as Error).message}`);
    }
  }

  /** Asks `ref` to become a contact; accepts at once when it had asked us. */
  async request(ref: string, message: string): Promise<{ twin: number; name: string; status: string }> {
    const { twin, name } = await this.resolve(ref);
    if (twin === this.self) throw new TwinError('bad_request', 'a twin cannot add itself');
    if (this.isContact(twin)) throw new TwinError('already_contact', `${name} is already a contact`);
    if (this.isBlocked(twin)) throw new TwinError('denied', `${name} is blocked: unblock it first`);
    const incoming = this.store.sql("SELECT 1 FROM requests WHERE twin = ? AND direction = 'in'").get(twin);
    if (incoming) {
      await this.accept(twin);
      return { twin, name, status: 'accepted' };
    }
    let answer: { ok: boolean; code?: string; accepted?: boolean };
    try {
      answer = parsePayload(
        ContactRequestAnswer,
        await this.bus.request(twin, COMMANDS.contactRequest, encode({ message })),
      );
    } catch (e) {
      throw new TwinError('unreachable', `${name} could not be reached: ${(e as Error).message}`);
    }
    if (!answer.ok)
      throw new TwinError(
        answer.code === 'rate_limited' ? 'rate_limited' : 'denied',
        `${name} refused the request (${answer.code ?? 'refused'})`,
      );
    if (answer.accepted) {
      this.makeContact(twin, name);
      return { twin, name, status: 'accepted' };
    }
    this.store
      .sql(
        "INSERT INTO requests (twin, direction, name, message, at) VALUES (?, 'out', ?, ?, ?) ON CONFLICT DO UPDATE SET message = excluded.message, at = excluded.at",
      )
      .run(twin, name, this.store.vault.seal(message), Date.now());
    return { twin, name, status: 'requested' };
  }

  /** Takes one request from `from`'s budget; false when it has none left. */
  private spend(from: number): boolean {
    const now = Date.now();
    const b = this.budgets.get(from) ?? { tokens: REQUEST_BURST, at: now };
    b.tokens = Math.min(REQUEST_BURST, b.tokens + (now - b.at) / REQUEST_REFILL_MS);
    b.at = now;
    this.budgets.delete(from);
    this.budgets.set(from, b);
    if (this.budgets.size > MAX_TRACKED_SENDERS) this.budgets.delete(this.budgets.keys().next().value!);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Another twin's contact request. Blocked twins are answered like anyone else and dropped. */
  private async received(
    from: number,
    message: string,
  ): Promise<{ ok: boolean; code?: string; accepted?: boolean }> {
    if (!this.spend(from)) return { ok: false, code: 'rate_limited' };
    if (this.isBlocked(from)) return { ok: true };
    const record = await this.bus.phonebookTwin(from);
    if (this.isContact(from)) return { ok: true, accepted: true };
    const outgoing = this.store.sql("SELECT 1 FROM requests WHERE twin = ? AND direction = 'out'").get(from);
    if (outgoing) {
      // Both asked: each side accepts the other's request.
      this.makeContact(from, record.name);
      return { ok: true, accepted: true };
    }
    const pending = this.store.sql("SELECT count(*) AS n FROM requests WHERE direction = 'in'").get() as {
      n: number;
    };
    const known = this.store.sql("SELECT 1 FROM requests WHERE twin = ? AND direction = 'in'").get(from);
    if (!known && pending.n >= MAX_PENDING_REQUESTS) return { ok: false, code: 'rate_limited' };
    this.store
      .sql(
        "INSERT INTO requests (twin, direction, name, message, at) VALUES (?, 'in', ?, ?, ?) ON CONFLICT DO UPDATE SET message = excluded.message, at = excluded.at",
      )
      .run(from, record.name, this.store.vault.seal(message), Date.now());
    this.events.publish({ type: 'contact.request', twin: from, name: record.name, message });
    return { ok: true };
  }

  /** `from` accepted our request (only a request we made can be accepted). */
  private accepted(m: InboxMessage): void {
    parsePayload(Empty, m.payload);
    const req = this.store
      .sql("SELECT name FROM requests WHERE twin = ? AND direction = 'out'")
      .get(m.from) as { name: string } | undefined;
    if (!req || this.isBlocked(m.from)) return;
    this.makeContact(m.from, req.name);
  }

  private makeContact(twin: number, name: string): void {
    const now = Date.now();
    this.store.db.transaction(() => {
      this.store.sql('DELETE FROM requests WHERE twin = ?').run(twin);
      this.store
        .sql('INSERT INTO contacts (twin, name, since, last_seen) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING')
        .run(twin, name, now, now);
    })();
    this.changed(twin, true);
    this.events.publish({ type: 'contact.accepted', twin, name });
  }

  private incoming(twin: number): { name: string } {
    const req = this.store.sql("SELECT name FROM requests WHERE twin = ? AND direction = 'in'").get(twin) as
      | { name: string }
      | undefined;
    if (!req) throw new TwinError('not_found', `no contact request from twin ${twin}`);
    return req;
  }

  async accept(twin: number): Promise<void> {
    const { name } = this.incoming(twin);
    await this.bus.send(twin, COMMANDS.contactAccepted, encode({}));
    this.makeContact(twin, name);
  }

  async decline(twin: number): Promise<void> {
    this.incoming(twin);
    await this.bus.send(twin, COMMANDS.contactDeclined, encode({}));
    this.store.sql("DELETE FROM requests WHERE twin = ? AND direction = 'in'").run(twin);
  }

  /** Drops the request without telling its sender. */
  ignore(twin: number): void {
    this.incoming(twin);
    this.store.sql("DELETE FROM requests WHERE twin = ? AND direction = 'in'").run(twin);
  }

  async remove(twin: number): Promise<void> {
    if (!this.isContact(twin)) throw new TwinError('not_found', `twin ${twin} is not a contact`);
    this.store.sql('DELETE FROM contacts WHERE twin = ?').run(twin);
    this.changed(twin, false);
    await this.bus.send(twin, COMMANDS.contactRemoved, encode({}));
  }

  /** Blocks a twin: it stops being a contact, its requests and messages are dropped; it is not told. */
  block(twin: number, name: string): void {
    const was = this.isContact(twin);
    this.store.db.transaction(() => {
      this.store.sql('DELETE FROM contacts WHERE twin = ?').run(twin);
      this.store.sql('DELETE FROM requests WHERE twin = ?').run(twin);
      this.store
        .sql('INSERT INTO blocked (twin, name, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING')
        .run(twin, name, Date.now());
    })();
    if (was) this.changed(twin, false);
  }

  unblock(twin: number): void {
    if (!this.store.sql('DELETE FROM blocked WHERE twin = ?').run(twin).changes)
      throw new TwinError('not_found', `twin ${twin} is not blocked`);
  }
}
