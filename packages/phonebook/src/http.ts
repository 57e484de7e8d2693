/** The phonebook's HTTP JSON API (fastify), served by the server and by replicas alike. */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { z } from 'zod';
import { PhonebookError } from './errors.ts';
import { registerGridRoutes } from './grid-http.ts';
import { decodeTx, subjectOf } from './ledger.ts';
import { DEFAULT_RATE_LIMITS, MAX_BODY_BYTES, type RateLimits } from './limits.ts';
import { TokenBuckets } from './ratelimit.ts';
import type { PhonebookService } from './service.ts';
import { type SignedCheckpoint, signedTxSchema } from './types.ts';

export interface HttpOptions {
  /** A replica refuses transactions. */
  readOnly: boolean;
  /** Extra health fields (a replica reports its upstream and any fork it saw). */
  health?: () => Record<string, unknown>;
  /** A replica relays the upstream's signed checkpoint (clients pin the upstream's key). */
  checkpoint?: () => SignedCheckpoint | null;
  logger?: boolean;
  /** Write rate limits (DEFAULT_RATE_LIMITS when absent). */
  limits?: RateLimits;
}

const page = z.object({
  from: z.coerce.number().int().positive().default(1),
  limit: z.coerce.number().int().positive().max(1000).default(100),
});

function fail(reply: FastifyReply, e: unknown): FastifyReply {
  if (e instanceof PhonebookError) return reply.code(e.status).send({ code: e.code, message: e.message });
  if (e instanceof z.ZodError) {
    const issue = e.issues[0];
    const message = `${issue?.path.join('.') || 'input'}: ${issue?.message ?? 'invalid'}`;
    if (issue?.code === 'too_big') return reply.code(413).send({ code: 'too_large', message });
    return reply.code(400).send({ code: 'bad_request', message });
  }
  return reply.code(500).send({ code: 'internal', message: (e as Error).message });
}

/**
 * The phonebook's HTTP API on `service` (fastify, not yet listening): /v1 reads, transaction
 * submission (refused on a replica), /health and /metrics. Errors answer `{code, message}` with
 * the PhonebookError's status; malformed bodies answer 400 `bad_request` or 413 `too_large`.
 */
export function buildApp(service: PhonebookService, options: HttpOptions): FastifyInstance {
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: MAX_BODY_BYTES });
  const counters = { requests: 0, submitted: 0, refused: 0, lookups: 0, rateLimited: 0 };
  const limits = options.limits ?? DEFAULT_RATE_LIMITS;
  const perClient = new TokenBuckets<string>(limits.perClient, limits.maxBuckets);
  const perTwin = new TokenBuckets<number>(limits.perTwin, limits.maxBuckets);
  const throttled = (reply: FastifyReply, waitMs: number, who: string) => {
    counters.rateLimited++;
    const seconds = Math.ceil(waitMs / 1000);
    return reply
      .code(429)
      .header('retry-after', String(seconds))
      .send({ code: 'rate_limited', message: `too many writes ${who}: retry in ${seconds} s` });
  };
  app.addHook('onRequest', async () => {
    counters.requests++;
  });
  app.setErrorHandler((error, _req, reply) => {
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    const code = status === 413 ? 'too_large' : status < 500 ? 'bad_request' : 'internal';
    reply
      .code(status >= 400 && status < 600 ? status : 500)
      .send({ code, message: (error as Error).message });
  });
  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send({ code: 'not_found', message: 'no such route' }),
  );

  app.post('/v1/transactions', async (req, reply) => {
    if (options.readOnly)
      return fail(
        reply,
        new PhonebookError('read_only', 'this is a read-only replica: submit to the server'),
      );
    // Every request from a client costs it a token, refused ones too (they cost us work as well).
    const clientWait = perClient.take(req.ip);
    if (clientWait > 0) return throttled(reply, clientWait, `from ${req.ip}`);
    try {
      const signed = signedTxSchema.parse(req.body);
      const decoded = decodeTx(signed);
      // A twin's bucket is only charged for its own accepted writes, so a stranger's forged
      // transactions cannot use up its budget; it is checked before the work is done.
      const subject = subjectOf(decoded.tx);
      const twinWait = subject === null ? 0 : perTwin.wait(subject);
      if (twinWait > 0) return throttled(reply, twinWait, `for twin ${subject}`);
      const result = service.submit(signed, decoded);
      perTwin.take(result.twin);
      counters.submitted++;
      return result;
    } catch (e) {
      counters.refused++;
      return fail(reply, e);
    }
  });

  /**
   * The checkpoint proofs are served under: this server's own, or on a replica the upstream's it
   * relays. Throws PhonebookError `unavailable` while a replica has none yet.
   */
  const servingCheckpoint = (): SignedCheckpoint => {
    if (!options.checkpoint) return service.checkpoint();
    const relayed = options.checkpoint();
    if (!relayed) throw new PhonebookError('unavailable', 'the replica has not synced with its upstream yet');
    return relayed;
  };

  const sendTwin = (reply: FastifyReply, id: number | undefined, what: string) => {
    counters.lookups++;
    try {
      const json = id === undefined ? undefined : service.twinProofJson(id, servingCheckpoint());
      if (json === undefined) return fail(reply, new PhonebookError('not_found', `no twin ${what}`));
      return reply.type('application/json').send(json);
    } catch (e) {
      return fail(reply, e);
    }
  };
  app.get<{ Params: { ref: string } }>('/v1/twins/:ref', async (req, reply) =>
    sendTwin(reply, service.twinId(req.params.ref), req.params.ref),
  );
  app.get<{ Params: { key: string } }>('/v1/twins/by-key/:key', async (req, reply) =>
    sendTwin(reply, service.twinIdByKey(req.params.key), `with key ${req.params.key}`),
  );
  app.get('/v1/twins', async (req, reply) => {
    try {
      const { from, limit } = page.parse(req.query);
      return { twins: service.twins(from, limit) };
    } catch (e) {
      return fail(reply, e);
    }
  });
  app.get('/v1/farms', async () => ({ farms: service.farms() }));
  app.get<{ Params: { id: string } }>('/v1/farms/:id', async (req, reply) => {
    const farm = service.state.farms.get(Number(req.params.id));
    return farm ?? fail(reply, new PhonebookError('not_found', `no farm ${req.params.id}`));
  });
  registerGridRoutes(app, service, { readOnly: options.readOnly, checkpoint: servingCheckpoint, fail });
  app.get('/v1/nodes', async () => ({ nodes: service.nodes() }));
  app.get<{ Params: { id: string } }>('/v1/nodes/:id', async (req, reply) => {
    const node = service.state.nodes.get(Number(req.params.id));
    return node ?? fail(reply, new PhonebookError('not_found', `no node ${req.params.id}`));
  });
  app.get('/v1/ledger', async (req, reply) => {
    try {
      const { from, limit } = page.parse(req.query);
      return { height: service.state.height, entries: service.ledger(from, limit) };
    } catch (e) {
      return fail(reply, e);
    }
  });
  const range = z.strictObject({
    from: z.coerce.number().int().positive(),
    to: z.coerce.number().int().positive(),
  });
  app.get('/v1/consistency', async (req, reply) => {
    try {
      const { from, to } = range.parse(req.query);
      return { from, to, proof: service.consistency(from, to) };
    } catch (e) {
      return fail(reply, e);
    }
  });
  app.get('/v1/checkpoint', async (_req, reply) => {
    try {
      return servingCheckpoint();
    } catch (e) {
      return fail(reply, e);
    }
  });
  app.get('/health', async (_req, reply) => {
    const extra = options.health?.() ?? {};
    const ok = !('fork' in extra && extra.fork);
    return reply
      .code(ok ? 200 : 503)
      .send({ ok, role: options.readOnly ? 'replica' : 'server', height: service.state.height, ...extra });
  });
  app.get('/metrics', async (_req, reply) => {
    const s = service.state;
    const lines = [
      '# TYPE phonebook_requests_total counter',
      `phonebook_requests_total ${counters.requests}`,
      '# TYPE phonebook_transactions_total counter',
      `phonebook_transactions_total{result="accepted"} ${counters.submitted}`,
      `phonebook_transactions_total{result="refused"} ${counters.refused}`,
      `phonebook_transactions_total{result="rate_limited"} ${counters.rateLimited}`,
      '# TYPE phonebook_lookups_total counter',
      `phonebook_lookups_total ${counters.lookups}`,
      '# TYPE phonebook_ledger_height gauge',
      `phonebook_ledger_height ${s.height}`,
      '# TYPE phonebook_twins gauge',
      `phonebook_twins ${s.twins.size}`,
      `phonebook_farms ${s.farms.size}`,
      `phonebook_nodes ${s.nodes.size}`,
    ];
    return reply.type('text/plain; version=0.0.4').send(`${lines.join('\n')}\n`);
  });
  return app;
}
