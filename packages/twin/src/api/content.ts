/**
 * The API's routes whose bodies or answers are bytes, not JSON: uploading a file (the request body
 * streamed into the twin's storage, no size cap), downloading one (with `Range`), the same for
 * files other twins share with this one (fetched over the bus as it is sent on), and the deletes
 * answered 204. They run in their own fastify scope, whose content parser hands the request body
 * over unread; the token check, the error shape and the zod checks are the API's.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { TwinError, type TwinErrorCode } from '../errors.ts';
import type { Experiences } from '../experiences/index.ts';
import { FilePath, FileRef, SharedRef } from './routes.ts';

function parse<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const code: TwinErrorCode = issue?.code === 'too_big' ? 'too_large' : 'bad_request';
  throw new TwinError(
    code,
    `${where}${issue?.path.length ? ` ${issue.path.join('.')}` : ''}: ${issue?.message}`,
  );
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` against a size; undefined without a Range header. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === ''))
    throw new TwinError('bad_request', `unsupported Range "${header.slice(0, 40)}"`);
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size)
    throw new TwinError('bad_range', `range ${header} is outside the ${size} bytes`);
  return { start, end };
}

function disposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

function sendBytes(
  reply: FastifyReply,
  o: { name: string; mime: string; size: number; range?: { start: number; end: number } },
  bytes: AsyncIterable<Uint8Array>,
): FastifyReply {
  reply.header('content-type', o.mime);
  reply.header('content-disposition', disposition(o.name));
  reply.header('accept-ranges', 'bytes');
  reply.header('x-content-type-options', 'nosniff');
  if (o.range) {
    reply.status(206);
    reply.header('content-range', `bytes ${o.range.start}-${o.range.end}/${o.size}`);
    reply.header('content-length', String(o.range.end - o.range.start + 1));
  } else reply.header('content-length', String(o.size));
  return reply.send(Readable.from(bytes, { objectMode: false }));
}

/** The request body as it arrives. */
function body(req: FastifyRequest): AsyncIterable<Uint8Array> {
  return req.raw;
}

export function contentRoutes(x: Experiences) {
  return async (app: FastifyInstance): Promise<void> => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_req, _payload, done) => done(null));
    const twin = async (ref: string) => (await x.contacts.resolve(ref)).twin;

    app.put('/api/files/content', async (req) => {
      const q = parse(z.strictObject({ path: FilePath }), req.query, 'query');
      return { entry: await x.files.put(q.path, body(req), req.headers['content-type']) };
    });

    app.get('/api/files/:id/content', async (req, reply) => {
      const { id } = parse(FileRef, req.params, 'path');
      const c = x.files.content(id);
      const range = parseRange(req.headers.range, c.size);
      const bytes = range ? x.files.range(id, range.start, range.end) : x.files.range(id, 0, c.size - 1);
      return sendBytes(reply, { name: c.name, mime: c.mime, size: c.size, range }, bytes);
    });

    app.get('/api/files/:id/thumbnail', async (req) => {
      const { id } = parse(FileRef, req.params, 'path');
      x.files.get(id);
      throw new TwinError('no_thumbnail', 'thumbnails are not made by this twin');
    });

    app.delete('/api/files/:id', async (req, reply) => {
      const { id } = parse(FileRef, req.params, 'path');
      await x.files.delete(id);
      return reply.status(204).send();
    });

    app.delete('/api/files/:id/shares/:twin', async (req, reply) => {
      const p = parse(
        z.strictObject({ id: FileRef.shape.id, twin: z.string().min(1).max(64) }),
        req.params,
        'path',
      );
      const t = await twin(p.twin);
      if (!x.files.unshare(p.id, t)) throw new TwinError('not_found', `${p.id} is not shared with twin ${t}`);
      return reply.status(204).send();
    });

    app.get('/api/shared/:owner/:id/content', async (req, reply) => {
      const p = parse(SharedRef, req.params, 'path');
      const owner = await twin(p.owner);
      const wanted = req.headers.range;
      // the size is known once the owner answered: ask for everything, or the range asked
      let range: { start: number; end: number } | undefined;
      let ask: { start?: number; end?: number } = {};
      const m = wanted ? /^bytes=(\d+)-(\d*)$/.exec(wanted.trim()) : null;
      if (wanted && !m) throw new TwinError('bad_request', 'Range: bytes=START- or bytes=START-END');
      if (m) ask = { start: Number(m[1]), end: m[2] === '' ? undefined : Number(m[2]) };
      const f = await x.transfers.fetch(owner, p.id, ask);
      if (m) range = { start: f.start, end: f.end };
      return sendBytes(reply, { name: f.file.name, mime: f.file.mime, size: f.file.size, range }, f.bytes);
    });

    app.put('/api/shared/:owner/:id/content', async (req) => {
      const p = parse(SharedRef, req.params, 'path');
      const q = parse(
        z.strictObject({ name: z.string().min(1).max(1024), path: z.string().max(4096).default('') }),
        req.query,
        'query',
      );
      const length = Number(req.headers['content-length']);
      if (!Number.isSafeInteger(length) || length < 0)
        throw new TwinError('bad_request', 'writing into a share needs a Content-Length');
      const entry = await x.transfers.put(
        await twin(p.owner),
        p.id,
        q.path === '/' ? '' : q.path,
        q.name,
        length,
        req.headers['content-type'] ?? '',
        body(req),
      );
      return { entry };
    });
  };
}

/** The OpenAPI entries of these routes (the route table's are generated from its schemas). */
export const CONTENT_PATHS: Record<string, Record<string, unknown>> = {
  '/api/files/content': {
    put: {
      summary:
        'upload a file (raw body, any Content-Type, streamed; parents created; replaces a file of that name)',
      tags: ['files'],
      parameters: [{ name: 'path', in: 'query', required: true, schema: { type: 'string' } }],
      requestBody: { content: { '*/*': { schema: { type: 'string', format: 'binary' } } } },
      responses: { 200: { description: '{entry}' } },
    },
  },
  '/api/files/{id}/content': {
    get: {
      summary: "a file's bytes (Content-Type its type; Range supported)",
      tags: ['files'],
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { 200: { description: 'the bytes' }, 206: { description: 'the range asked' } },
    },
  },
  '/api/files/{id}/thumbnail': {
    get: {
      summary: 'a thumbnail (not made yet by this twin: 404 no_thumbnail)',
      tags: ['files'],
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { 404: { description: 'no_thumbnail' } },
    },
  },
  '/api/files/{id}': {
    delete: {
      summary: 'delete an entry (a folder with everything under it)',
      tags: ['files'],
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { 204: { description: 'deleted' } },
    },
  },
  '/api/files/{id}/shares/{twin}': {
    delete: {
      summary: 'revoke a share',
      tags: ['files'],
      parameters: ['id', 'twin'].map((name) => ({
        name,
        in: 'path',
        required: true,
        schema: { type: 'string' },
      })),
      responses: { 204: { description: 'revoked' } },
    },
  },
  '/api/shared/{owner}/{id}/content': {
    get: {
      summary:
        'bytes of a file another twin shares with this one, streamed from its twin (verified per chunk and whole; resumed after a broken connection; Range: bytes=START-[END])',
      tags: ['files'],
      parameters: ['owner', 'id'].map((name) => ({
        name,
        in: 'path',
        required: true,
        schema: { type: 'string' },
      })),
      responses: { 200: { description: 'the bytes' }, 206: { description: 'the range asked' } },
    },
    put: {
      summary:
        'write a file into a folder another twin shares read-write with this one (Content-Length required)',
      tags: ['files'],
      parameters: [
        ...['owner', 'id'].map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
        { name: 'name', in: 'query', required: true, schema: { type: 'string' } },
        { name: 'path', in: 'query', required: false, schema: { type: 'string' } },
      ],
      requestBody: { content: { '*/*': { schema: { type: 'string', format: 'binary' } } } },
      responses: { 200: { description: '{entry}' } },
    },
  },
};
