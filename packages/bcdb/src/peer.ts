/**
 * Peer access over the twin bus. The caller is always the verified envelope sender (never a field
 * of the payload); every call is checked against the object's (or its collection's) ACL; a
 * refusal answers a typed error and is logged. Peers without rights file access requests, which
 * the owner approves (→ grant) or declines; the requester is told either way by a reliable
 * message.
 */
import type { TwinBus } from '@twin/network';
import { z } from 'zod';
import type { Bcdb } from './bcdb.ts';
import type { FindQuery, ObjectMeta } from './catalog.ts';
import { BcdbError } from './errors.ts';
import { MAX_REASON_LENGTH } from './limits.ts';
import {
  type accessDecisionSchema,
  args,
  pageSchema,
  parse,
  parseJson,
  remoteMetaSchema,
  remoteObjectSchema,
  replySchema,
  requestIdSchema,
} from './schemas.ts';

/** A page of a peer's objects (metadata without the 0-db key). */
export interface RemotePage {
  objects: Omit<ObjectMeta, 'zkey'>[];
  cursor: string | null;
}

/** The collection holding access requests (private to the owner, never served to peers). */
export const REQUESTS = '_access_requests';

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

/** The one-way `bcdb.access.decision` message; parse it with {@link accessDecisionSchema}. */
export type AccessDecision = z.output<typeof accessDecisionSchema>;

/** What the served commands log: refusals (`denied`) and unexpected failures (`internal`). */
export type BcdbLog = (msg: string, fields: Record<string, unknown>) => void;

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const strip = ({ zkey: _z, ...rest }: ObjectMeta) => rest;

/**
 * Registers `command` on the bus: the payload is parsed with `schema` (else `bad_request`), `fn`
 * runs as the verified sender, and the reply is `{ok, result}` or `{ok: false, error}`. A
 * BcdbError keeps its code; anything else is `internal` and its detail stays in the log.
 */
function answer<S extends z.ZodType, T>(
  bus: TwinBus,
  command: string,
  schema: S,
  fn: (args: z.output<S>, caller: number) => Promise<T> | T,
  log: BcdbLog,
  ownerOnly?: number,
): void {
  bus.handle(command, async (payload, ctx) => {
    try {
      if (ownerOnly !== undefined && ctx.from !== ownerOnly)
        throw new BcdbError('denied', `${command} is for the owner only`);
      const result = await fn(parseJson(schema, payload, 'bad_request', command), ctx.from);
      return json({ ok: true, result });
    } catch (e) {
      let err: BcdbError;
      if (e instanceof BcdbError) err = e;
      else {
        log('bcdb internal error', { command, twin: ctx.from, error: (e as Error)?.message ?? String(e) });
        err = new BcdbError('internal', `${command} failed`);
      }
      if (err.code === 'denied') log('bcdb access denied', { command, twin: ctx.from, reason: err.message });
      return json({ ok: false, error: err.toJSON() });
    }
  });
}

const privateRequests = (collection: string) => {
  if (collection === REQUESTS) throw new BcdbError('denied', 'access requests are private');
};

/**
 * Registers the peer bcdb.* bus commands for `db` (run by the owner's twin process): get, find,
 * list, set, delete, access.request. Every argument is parsed at the boundary; every call is
 * checked against the ACLs as the envelope's verified sender. Replies carry the BcdbError codes
 * `bad_request`, `denied`, `not_found`, `conflict` or `internal`.
 */
export function serveBcdb(bus: TwinBus, db: Bcdb, log: BcdbLog = () => {}): void {
  answer(
    bus,
    'bcdb.get',
    args.get,
    async ({ id }, caller): Promise<RemoteObject> => {
      const o = await db.get(id, caller);
      return { ...strip(o), data: o.data.toString('base64') };
    },
    log,
  );
  answer(
    bus,
    'bcdb.find',
    args.find,
    (q, caller) => {
      privateRequests(q.collection);
      const page = db.find(q, caller);
      return { ...page, objects: page.objects.map(strip) };
    },
    log,
  );
  answer(
    bus,
    'bcdb.list',
    args.list,
    (q, caller) => {
      privateRequests(q.collection);
      const page = db.find({ collection: q.collection, cursor: q.cursor, limit: q.limit }, caller);
      return { ...page, objects: page.objects.map(strip) };
    },
    log,
  );
  answer(
    bus,
    'bcdb.set',
    args.set,
    async (a, caller) =>
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
    log,
  );
  answer(
    bus,
    'bcdb.delete',
    args.delete,
    async ({ id }, caller) => {
      await db.delete(id, caller);
      return true;
    },
    log,
  );
  answer(
    bus,
    'bcdb.access.request',
    args.accessRequest,
    async (a, caller) => {
      if ((a.object === undefined) === (a.collection === undefined))
        throw new BcdbError('bad_request', 'ask for one object or one collection');
      if (a.object !== undefined && !db.catalog.object(a.object))
        throw new BcdbError('not_found', `no object ${a.object}`);
      const tags: Record<string, string> = { status: 'pending', requester: String(caller) };
      const body = {
        requester: caller,
        object: a.object,
        collection: a.collection,
        perms: a.perms,
        reason: (a.reason ?? '').slice(0, MAX_REASON_LENGTH),
      };
      const meta = await db.set(REQUESTS, json(body), { tags });
      return { request: meta.id };
    },
    log,
  );
}

/**
 * The owner's side of access requests: list them, approve (grants what was asked) or decline;
 * the requester is told by a reliable `bcdb.access.decision` message either way.
 * Throws BcdbError `not_found`, `conflict` (already decided).
 */
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

/**
 * A peer's BCDB, reached over the bus with this twin's identity; every reply is parsed.
 * Methods throw BcdbError (the peer's refusal: `denied`, `not_found`, `conflict`, `bad_request`,
 * `internal`; or `bad_reply`) and NetworkError when the bus fails.
 */
export class RemoteBcdb {
  constructor(
    private readonly bus: TwinBus,
    readonly twin: string | number,
  ) {}

  private call<T>(command: string, args: unknown, result: z.ZodType<T>): Promise<T> {
    return callBcdb(this.bus, this.twin, command, args, result);
  }

  /** The object and its data, if the peer's ACLs let this twin read it. */
  async get(id: number): Promise<Omit<ObjectMeta, 'zkey'> & { data: Buffer }> {
    const o = await this.call('bcdb.get', { id }, remoteObjectSchema);
    return { ...o, data: Buffer.from(o.data, 'base64') };
  }

  /** A page of the peer's objects that this twin may read. */
  find(q: FindQuery): Promise<RemotePage> {
    return this.call('bcdb.find', q, pageSchema);
  }

  /** A page of a collection, newest first. */
  list(collection: string, cursor?: string, limit?: number): Promise<RemotePage> {
    return this.call('bcdb.list', { collection, cursor, limit }, pageSchema);
  }

  update(
    id: number,
    o: { data?: Uint8Array; tags?: Record<string, string>; expectedVersion?: number },
  ): Promise<Omit<ObjectMeta, 'zkey'>> {
    return this.call(
      'bcdb.set',
      {
        id,
        data: o.data ? Buffer.from(o.data).toString('base64') : undefined,
        tags: o.tags,
        expectedVersion: o.expectedVersion,
      },
      remoteMetaSchema,
    );
  }

  async delete(id: number): Promise<void> {
    await this.call('bcdb.delete', { id }, z.literal(true));
  }

  /** Asks the owner for rights on an object or a collection; the decision arrives as a 'bcdb.access.decision' message. */
  requestAccess(
    target: { object: number } | { collection: string },
    perms: string,
    reason: string,
  ): Promise<{ request: number }> {
    return this.call('bcdb.access.request', { ...target, perms, reason }, requestIdSchema);
  }
}

/**
 * Owner-only commands (create, acl.*, requests.*): the twin's own CLI reaches its running twin
 * with the same identity, so `caller === owner` is proven by the envelope (or the control socket)
 * like any other call; anyone else is `denied`.
 */
export function serveOwner(bus: TwinBus, db: Bcdb, requests: AccessRequests, log: BcdbLog = () => {}): void {
  const owner = <S extends z.ZodType, T>(
    command: string,
    schema: S,
    fn: (a: z.output<S>) => Promise<T> | T,
  ) => answer(bus, command, schema, (a) => fn(a), log, db.owner);
  owner('bcdb.create', args.create, async (a) =>
    strip(await db.set(a.collection, Buffer.from(a.data, 'base64'), { tags: a.tags, acl: a.acl })),
  );
  owner('bcdb.acl.create', args.aclCreate, (a) => db.createAcl(a.entries ?? {}));
  owner('bcdb.acl.get', args.aclId, (a) => db.getAcl(a.id));
  owner('bcdb.acl.list', args.none, () => db.listAcls());
  owner('bcdb.acl.set', args.aclSet, (a) => db.setPermissions(a.id, a.twin, a.perms));
  owner('bcdb.acl.grant', args.aclGrant, (a) => db.grant(a.id, a.twins, a.perms));
  owner('bcdb.acl.revoke', args.aclRevoke, (a) => db.revoke(a.id, a.twins));
  owner('bcdb.requests.list', args.requestsList, (a) => requests.list(a.status ?? 'pending'));
  owner('bcdb.requests.approve', args.aclId, async (a) => {
    await requests.approve(a.id);
    return true;
  });
  owner('bcdb.requests.decline', args.aclId, async (a) => {
    await requests.decline(a.id);
    return true;
  });
}

/**
 * Parses a bcdb.* reply (from a peer, or from this twin's daemon): the result, checked against
 * `result` when given.
 * @throws BcdbError with the reply's code when it is a refusal; `bad_reply` when it is malformed
 */
export function unwrapReply<T = unknown>(
  bytes: Uint8Array | string,
  command: string,
  result?: z.ZodType<T>,
): T {
  const reply = parseJson(replySchema, bytes, 'bad_reply', command);
  if (!reply.ok) throw new BcdbError(reply.error.code, reply.error.message);
  return result ? parse(result, reply.result, 'bad_reply', command) : (reply.result as T);
}

/**
 * Calls any bcdb.* command on a twin (this twin's own daemon, or a peer) and unwraps the reply.
 * @throws BcdbError (the peer's refusal, or `bad_reply`); NetworkError when the bus fails
 */
export async function callBcdb<T = unknown>(
  bus: TwinBus,
  twin: string | number,
  command: string,
  args: unknown,
  result?: z.ZodType<T>,
): Promise<T> {
  return unwrapReply(await bus.request(twin, command, json(args)), command, result);
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

  async find(q: FindQuery, o: { twin?: string | number } = {}): Promise<RemotePage> {
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
