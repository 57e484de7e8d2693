/** The grid's HTTP routes: heartbeats and node status (server only), contracts and their proofs. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { PhonebookError } from './errors.ts';
import { signedHeartbeatSchema } from './grid-types.ts';
import type { PhonebookService } from './service.ts';
import type { SignedCheckpoint } from './types.ts';

const contractQuery = z.strictObject({
  node: z.coerce.number().int().positive().optional(),
  twin: z.coerce.number().int().positive().optional(),
  from: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().positive().max(1000).default(1000),
});

export function registerGridRoutes(
  app: FastifyInstance,
  service: PhonebookService,
  o: {
    readOnly: boolean;
    /** The checkpoint proofs are served under (throws `unavailable` while there is none). */
    checkpoint: () => SignedCheckpoint;
    fail: (reply: FastifyReply, e: unknown) => FastifyReply;
  },
): void {
  const { fail } = o;
  app.post('/v1/heartbeats', async (req, reply) => {
    if (o.readOnly)
      return fail(reply, new PhonebookError('read_only', 'heartbeats go to the server, not a replica'));
    try {
      return service.heartbeats.beat(signedHeartbeatSchema.parse(req.body));
    } catch (e) {
      return fail(reply, e);
    }
  });
  app.get('/v1/nodes/status', async (_req, reply) => {
    if (o.readOnly)
      return fail(
        reply,
        new PhonebookError('unavailable', 'node status is served by the server, not a replica'),
      );
    return { statuses: service.heartbeats.all() };
  });
  app.get('/v1/contracts', async (req, reply) => {
    try {
      return { contracts: service.contracts(contractQuery.parse(req.query)) };
    } catch (e) {
      return fail(reply, e);
    }
  });
  app.get<{ Params: { id: string } }>('/v1/contracts/:id', async (req, reply) => {
    try {
      const id = z.coerce.number().int().positive().parse(req.params.id);
      const proof = service.contractProof(id, o.checkpoint());
      if (!proof) throw new PhonebookError('not_found', `no contract ${id}`);
      return proof;
    } catch (e) {
      return fail(reply, e);
    }
  });
}
