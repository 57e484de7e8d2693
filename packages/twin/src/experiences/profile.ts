/**
 * The twin's profile (display name, status line, avatar): one object in the twin's BCDB whose ACL
 * grants read to exactly its contacts, kept in step with the contact list. A contact reads it
 * with `profile.get` (the BCDB checks the ACL: anyone else is denied) and is sent the new profile
 * whenever it changes, and when it becomes a contact.
 */
import type { Bcdb } from '@twin/bcdb';
import type { TwinBus } from '@twin/network';
import { TwinError } from '../errors.ts';
import type { Contacts } from './contacts.ts';
import type { EventHub } from './events.ts';
import { COMMANDS, Empty, encode, Profile, parsePayload } from './protocol.ts';
import type { ExperienceStore } from './store.ts';

export const PROFILE_COLLECTION = 'profile';

export class Profiles {
  private pending: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: ExperienceStore,
    private readonly bus: TwinBus,
    private readonly bcdb: Bcdb,
    private readonly contacts: Contacts,
    private readonly events: EventHub,
    private readonly log: (msg: string, fields?: Record<string, unknown>) => void,
  ) {}

  serve(): void {
    this.bus.handle(COMMANDS.profileGet, async (payload, { from }) => {
      parsePayload(Empty, payload);
      const id = Number(this.store.get('profile.object') ?? 0);
      if (!id) return encode({ ok: false, code: 'not_found' });
      try {
        return encode({ ok: true, profile: JSON.parse((await this.bcdb.get(id, from)).data.toString()) });
      } catch (e) {
        return encode({ ok: false, code: (e as { code?: string }).code ?? 'denied' });
      }
    });
    this.bus.onMessage(COMMANDS.profileChanged, (m) => {
      if (!this.contacts.isContact(m.from) || this.contacts.isBlocked(m.from)) return;
      const p = parsePayload(Profile, m.payload);
      this.store.sql('UPDATE contacts SET profile = ? WHERE twin = ?').run(JSON.stringify(p), m.from);
      this.events.publish({ type: 'profile', twin: m.from });
    });
    this.contacts.onChange((twin, isContact) => {
      this.serialise(async () => {
        const acl = await this.acl();
        if (isContact) {
          await this.bcdb.grant(acl, [twin], 'r');
          const own = await this.get();
          if (own.updated > 0) await this.bus.send(twin, COMMANDS.profileChanged, encode(own));
        } else await this.bcdb.revoke(acl, [twin]);
      });
    });
  }

  /** Runs ACL and BCDB changes one after the other; a failure is logged. */
  private serialise(f: () => Promise<void>): Promise<void> {
    const next = this.pending
      .then(f)
      .catch((e: Error) => this.log('profile update failed', { error: e.message }));
    this.pending = next;
    return next;
  }

  /** Waits for ACL changes in flight. */
  settled(): Promise<unknown> {
    return this.pending;
  }

  /** The ACL that lists the contacts (created on first use). */
  private async acl(): Promise<number> {
    const known = this.store.get('profile.acl');
    if (known) return Number(known);
    const acl = await this.bcdb.createAcl({});
    this.store.put('profile.acl', String(acl.id));
    return acl.id;
  }

  /** Makes the ACL list exactly the contacts (after a crash between a contact change and the grant). */
  reconcile(): Promise<void> {
    return this.serialise(async () => {
      const acl = await this.acl();
      const granted = new Set(Object.keys(this.bcdb.getAcl(acl).entries).map(Number));
      const contacts = new Set(this.contacts.list().map((c) => c.twin));
      const add = [...contacts].filter((t) => !granted.has(t));
      const drop = [...granted].filter((t) => !contacts.has(t));
      if (add.length) await this.bcdb.grant(acl, add, 'r');
      if (drop.length) await this.bcdb.revoke(acl, drop);
    });
  }

  async get(): Promise<Profile> {
    const id = Number(this.store.get('profile.object') ?? 0);
    if (!id) return { name: '', status: '', avatar: '', updated: 0 };
    return Profile.parse(JSON.parse((await this.bcdb.get(id)).data.toString()));
  }

  async set(change: Partial<Omit<Profile, 'updated'>>): Promise<Profile> {
    const next = Profile.safeParse({ ...(await this.get()), ...change, updated: Date.now() });
    if (!next.success)
      throw new TwinError('bad_request', `profile refused: ${next.error.issues[0]?.message}`);
    const data = encode(next.data);
    await this.serialise(async () => {
      const id = Number(this.store.get('profile.object') ?? 0);
      if (id) await this.bcdb.update(id, { data });
      else {
        const meta = await this.bcdb.set(PROFILE_COLLECTION, data, { acl: await this.acl() });
        this.store.put('profile.object', String(meta.id));
      }
    });
    for (const c of this.contacts.list()) await this.bus.send(c.twin, COMMANDS.profileChanged, data);
    return next.data;
  }

  /** A contact's profile: fetched from its twin (ACL-checked there), else the copy last sent to us. */
  async of(twin: number, fresh = false): Promise<Profile | null> {
    if (!this.contacts.isContact(twin)) throw new TwinError('not_contact', `twin ${twin} is not a contact`);
    const cached = this.store.sql('SELECT profile FROM contacts WHERE twin = ?').get(twin) as {
      profile: string | null;
    };
    if (!fresh && cached.profile) return Profile.parse(JSON.parse(cached.profile));
    try {
      const reply = JSON.parse(
        (await this.bus.request(twin, COMMANDS.profileGet, encode({}))).toString(),
      ) as {
        ok: boolean;
        code?: string;
        profile?: unknown;
      };
      if (!reply.ok) return null;
      const p = Profile.parse(reply.profile);
      this.store.sql('UPDATE contacts SET profile = ? WHERE twin = ?').run(JSON.stringify(p), twin);
      return p;
    } catch {
      return cached.profile ? Profile.parse(JSON.parse(cached.profile)) : null;
    }
  }

  /** Asks any twin for its profile (what a stranger's twin answers: denied). */
  async ask(twin: number): Promise<{ ok: boolean; code?: string }> {
    const reply = JSON.parse((await this.bus.request(twin, COMMANDS.profileGet, encode({}))).toString()) as {
      ok: boolean;
      code?: string;
    };
    return { ok: reply.ok, code: reply.code };
  }
}
