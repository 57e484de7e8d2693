/**
 * Peer access over the twin bus. The caller is always the verified envelope sender (never a field
 * of the payload); every call is checked against the object's (or its collection's) ACL; a
 * refusal answers a typed error and is logged. Peers without rights file access requests, which
 * the owner approves (→ grant) or declines; the requester is told either way by a reliable
 * message.
 */
import type { TwinBus } from '@twin/network';
import type { Bcdb } from './bcdb.ts';
import type { FindQuery, ObjectMeta, Page } from './catalog.ts';
import { BcdbError, type BcdbErrorCode } from './errors.ts';

export const REQUESTS = '_access_requests';

type Reply<T> = { ok: true; result: T } | { ok: false; error: { code: BcdbErrorCode; message: string } };

export interface RemoteObject extends Omit<ObjectMeta, 'zkey'> {
  data: string; // base64
}

export interface AccessRequest {
  id: number;
  requester: number;
  object?: number;
  collection?: string;
  perms: string;
  reason: string;
  status: 'pending' | 'approved' | 'declined';
}

export interface AccessDecision {
  request: number;
  status: 'approved' | 'declined';
  object?: number;
  collection?: string;
  perms: string;
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const strip = ({ zkey: _z, ...rest }: ObjectMeta) => rest;

/** Registers the bcdb.* bus commands for `db` (run by the owner's twin process). */
export function serveBcdb(
  bus: TwinBus,
  db: Bcdb,
  log: (msg: string, f: Record<string, unknown>) => void = () => {},
): void {
  const handle = <A, T>(command: string, fn: (args: A, caller: number) => Promise<T> | T) => {
    bus.handle(command, async (payload, ctx) => {
      let reply: Reply<T>;
      try {
        reply = { ok: true, result: await fn(JSON.parse(payload.toString() || '{}') as A, ctx.from) };
      } catch (e) {
        const err = e instanceof BcdbError ? e : new BcdbError('bad_request', (e as Error).message);
        if (err.code === 'denied')
          log('bcdb access denied', { command, twin: ctx.from, reason: err.message });
        reply = { ok: false, error: { code: err.code, message: err.message } };
      }
      return json(reply);
    });
  };
  handle<{ id: number }, RemoteObject>('bcdb.get', async ({ id }, caller) => {
    const o = await db.get(id, caller);
    return { ...strip(o), data: o.data.toString('base64') };
  });
  handle<FindQuery, Page>('bcdb.find', (q, caller) => {
    if (q.collection === REQUESTS) throw new BcdbError('denied', 'access requests are private');
    const page = db.find(q, caller);
    return { ...page, objects: page.objects.map((o) => strip(o) as ObjectMeta) };
  });
  handle<{ collection: string; cursor?: string; limit?: number }, Page>('bcdb.list', (q, caller) => {
    if (q.collection === REQUESTS) throw new BcdbError('denied', 'access requests are private');
    const page = db.find({ collection: q.collection, cursor: q.cursor, limit: q.limit }, caller);
    return { ...page, objects: page.objects.map((o) => strip(o) as ObjectMeta) };
  });
  handle<
    { id: number; data?: string; tags?: Record<string, string>; expectedVersion?: number },
    Omit<ObjectMeta, 'zkey'>
  >('bcdb.set', async (a, caller) =>
    strip(
      await db.update(
        a.id,
        {
          data: a.data === undefined ? undefined : Buffer.from(a.data, 'base64'),
          tags: a.tags,
          expectedVersion: a.expectedVersion,
        },
        caller,
      ),
    ),
  );
  handle<{ id: number }, boolean>('bcdb.delete', async ({ id }, caller) => {
    await db.delete(id, caller);
    return true;
  });
  handle<{ object?: number; collection?: string; perms: string; reason?: string }, { request: number }>(
    'bcdb.access.request',
    async (a, caller) => {
      if ((a.object === undefined) === (a.collection === undefined))
        throw new BcdbError('bad_request', 'ask for one object or one collection');
      if (!/^[rwd]{1,3}$/.test(a.perms ?? ''))
        throw new BcdbError('bad_request', 'perms is a subset of "rwd"');
      if (a.object !== undefined && !db.catalog.object(a.object))
        throw new BcdbError('not_found', `no object ${a.object}`);
      const tags: Record<string, string> = { status: 'pending', requester: String(caller) };
      const body = {
        requester: caller,
        object: a.object,
        collection: a.collection,
        perms: a.perms,
        reason: String(a.reason ?? '').slice(0, 1000),
      };
      const meta = await db.set(REQUESTS, json(body), { tags });
      return { request: meta.id };
    },
  );
}

/** The owner's side of access requests. */
export class AccessRequests {
  constructor(
    private readonly db: Bcdb,
    private readonly bus: TwinBus,
  ) {}

  async list(status: AccessRequest['status'] = 'pending'): Promise<AccessRequest[]> {
    const out: AccessRequest[] = [];
    for await (const meta of this.db.stream({ collection: REQUESTS, tags: { status }, order: 'asc' }))
      out.push(await this.read(meta.id));
    return out;
  }

  private async read(id: number): Promise<AccessRequest> {
    const o = await this.db.get(id);
    if (o.collection !== REQUESTS) throw new BcdbError('not_found', `no access request ${id}`);
    return {
      id,
      ...(JSON.parse(o.data.toString()) as Omit<AccessRequest, 'id' | 'status'>),
      status: o.tags.status as AccessRequest['status'],
    };
  }

  /** Grants what was asked (a new ACL for a private object or an unshared collection) and tells the requester. */
  async approve(id: number): Promise<void> {
    const r = await this.read(id);
    if (r.status !== 'pending') throw new BcdbError('conflict', `request ${id} is already ${r.status}`);
    if (r.object !== undefined) {
      const obj = this.db.catalog.object(r.object);
      if (!obj) throw new BcdbError('not_found', `no object ${r.object}`);
      let acl = obj.acl;
      if (acl === 0) {
        acl = (await this.db.createAcl()).id;
        await this.db.update(obj.id, { acl });
      }
      await this.db.grant(acl, [r.requester], r.perms);
    } else {
      let acl = this.db.collectionAcl(r.collection!);
      if (acl === null) {
        acl = (await this.db.createAcl()).id;
        await this.db.shareCollection(r.collection!, acl);
      }
      await this.db.grant(acl, [r.requester], r.perms);
    }
    await this.decide(r, 'approved');
  }

  async decline(id: number): Promise<void> {
    const r = await this.read(id);
    if (r.status !== 'pending') throw new BcdbError('conflict', `request ${id} is already ${r.status}`);
    await this.decide(r, 'declined');
  }

  private async decide(r: AccessRequest, status: AccessDecision['status']): Promise<void> {
    await this.db.update(r.id, { tags: { status, requester: String(r.requester) } });
    const decision: AccessDecision = {
      request: r.id,
      status,
      object: r.object,
      collection: r.collection,
      perms: r.perms,
    };
    await this.bus.send(r.requester, 'bcdb.access.decision', json(decision));
  }
}

/** A peer's BCDB, reached over the bus with this twin's identity. */
export class RemoteBcdb {
  constructor(
    private readonly bus: TwinBus,
    readonly twin: string | number,
  ) {}

  private call<T>(command: string, args: unknown): Promise<T> {
    return callBcdb(this.bus, this.twin, command, args);
  }

  async get(id: number): Promise<Omit<ObjectMeta, 'zkey'> & { data: Buffer }> {
    const o = await this.call<RemoteObject>('bcdb.get', { id });
    return { ...o, data: Buffer.from(o.data, 'base64') };
  }

  find(q: FindQuery): Promise<Page> {
    return this.call('bcdb.find', q);
  }

  list(collection: string, cursor?: string, limit?: number): Promise<Page> {
    return this.call('bcdb.list', { collection, cursor, limit });
  }

  update(
    id: number,
    o: { data?: Uint8Array; tags?: Record<string, string>; expectedVersion?: number },
  ): Promise<Omit<ObjectMeta, 'zkey'>> {
    return this.call('bcdb.set', {
      id,
      data: o.data ? Buffer.from(o.data).toString('base64') : undefined,
      tags: o.tags,
      expectedVersion: o.expectedVersion,
    });
  }

  async delete(id: number): Promise<void> {
    await this.call('bcdb.delete', { id });
  }

  /** Asks the owner for rights on an object or a collection; the decision arrives as a 'bcdb.access.decision' message. */
  requestAccess(
    target: { object: number } | { collection: string },
    perms: string,
    reason: string,
  ): Promise<{ request: number }> {
    return this.call('bcdb.access.request', { ...target, perms, reason });
  }
}

/**
 * Owner-only commands: the twin's own CLI reaches its running twin over the bus with the same
 * identity, so `caller === owner` is proven by the envelope signature like any other call.
 */
export function serveOwner(bus: TwinBus, db: Bcdb, requests: AccessRequests): void {
  const owner = <A, T>(command: string, fn: (args: A) => Promise<T> | T) => {
    bus.handle(command, async (payload, ctx) => {
      let reply: Reply<T>;
      try {
        if (ctx.from !== db.owner) throw new BcdbError('denied', `${command} is for the owner only`);
        reply = { ok: true, result: await fn(JSON.parse(payload.toString() || '{}') as A) };
      } catch (e) {
        const err = e instanceof BcdbError ? e : new BcdbError('bad_request', (e as Error).message);
        reply = { ok: false, error: { code: err.code, message: err.message } };
      }
      return json(reply);
    });
  };
  owner<
    { collection: string; data: string; tags?: Record<string, string>; acl?: number },
    Omit<ObjectMeta, 'zkey'>
  >('bcdb.create', async (a) =>
    strip(await db.set(a.collection, Buffer.from(a.data, 'base64'), { tags: a.tags, acl: a.acl })),
  );
  owner<{ entries?: Record<string, string> }, unknown>('bcdb.acl.create', (a) =>
    db.createAcl(a.entries ?? {}),
  );
  owner<{ id: number }, unknown>('bcdb.acl.get', (a) => db.getAcl(a.id));
  owner<Record<string, never>, unknown>('bcdb.acl.list', () => db.listAcls());
  owner<{ id: number; twin: number; perms: string }, unknown>('bcdb.acl.set', (a) =>
    db.setPermissions(a.id, a.twin, a.perms),
  );
  owner<{ id: number; twins: number[]; perms: string }, unknown>('bcdb.acl.grant', (a) =>
    db.grant(a.id, a.twins, a.perms),
  );
  owner<{ id: number; twins: number[] }, unknown>('bcdb.acl.revoke', (a) => db.revoke(a.id, a.twins));
  owner<{ status?: AccessRequest['status'] }, AccessRequest[]>('bcdb.requests.list', (a) =>
    requests.list(a.status ?? 'pending'),
  );
  owner<{ id: number }, boolean>('bcdb.requests.approve', async (a) => {
    await requests.approve(a.id);
    return true;
  });
  owner<{ id: number }, boolean>('bcdb.requests.decline', async (a) => {
    await requests.decline(a.id);
    return true;
  });
}

/** Calls any bcdb.* command on a twin (this twin's own daemon, or a peer) and unwraps the reply. */
export async function callBcdb<T>(
  bus: TwinBus,
  twin: string | number,
  command: string,
  args: unknown,
): Promise<T> {
  const reply = JSON.parse((await bus.request(twin, command, json(args))).toString()) as Reply<T>;
  if (!reply.ok) throw new BcdbError(reply.error.code, reply.error.message);
  return reply.result;
}

/**
 * One API for this twin's objects and a peer's: pass `{ twin }` to read another twin's BCDB over
 * the bus (where its ACLs allow), omit it for this twin's own.
 */
export class BcdbApi {
  constructor(
    readonly local: Bcdb,
    private readonly bus: TwinBus,
  ) {}

  private remote(twin: string | number): RemoteBcdb {
    return new RemoteBcdb(this.bus, twin);
  }

  get(id: number, o: { twin?: string | number } = {}): Promise<Omit<ObjectMeta, 'zkey'> & { data: Buffer }> {
    return o.twin === undefined ? this.local.get(id) : this.remote(o.twin).get(id);
  }

  async find(q: FindQuery, o: { twin?: string | number } = {}): Promise<Page> {
    return o.twin === undefined ? this.local.find(q) : this.remote(o.twin).find(q);
  }

  update(
    id: number,
    u: { data?: Uint8Array; tags?: Record<string, string>; expectedVersion?: number },
    o: { twin?: string | number } = {},
  ): Promise<Omit<ObjectMeta, 'zkey'>> {
    return o.twin === undefined ? this.local.update(id, u) : this.remote(o.twin).update(id, u);
  }

  delete(id: number, o: { twin?: string | number } = {}): Promise<void> {
    return o.twin === undefined ? this.local.delete(id) : this.remote(o.twin).delete(id);
  }
}
