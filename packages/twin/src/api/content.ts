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

    const sendThumbnail = (reply: FastifyReply, webp: Buffer) =>
      reply
        .header('content-type', 'image/webp')
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'private, max-age=3600')
        .send(webp);
    app.get('/api/files/:id/thumbnail', async (req, reply) => {
      const { id } = parse(FileRef, req.params, 'path');
      return sendThumbnail(reply, await x.files.thumbnail(id));
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
      if (!(await x.transfers.unshare(p.id, t)))
        throw new TwinError('not_found', `${p.id} is not shared with twin ${t}`);
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

    /** Bytes of `file`: this twin's own, or fetched from `owner`'s twin (Range as asked). */
    const bytesOf = async (req: FastifyRequest, reply: FastifyReply, owner: number, file: string) => {
      if (owner === x.self) {
        const c = x.files.content(file);
        const range = parseRange(req.headers.range, c.size);
        return sendBytes(
          reply,
          { name: c.name, mime: c.mime, size: c.size, range },
          x.files.range(file, range?.start ?? 0, range?.end ?? c.size - 1),
        );
      }
      const m = req.headers.range ? /^bytes=(\d+)-(\d*)$/.exec(req.headers.range.trim()) : null;
      if (req.headers.range && !m)
        throw new TwinError('bad_request', 'Range: bytes=START- or bytes=START-END');
      const f = await x.transfers.fetch(
        owner,
        file,
        m ? { start: Number(m[1]), end: m[2] === '' ? undefined : Number(m[2]) } : {},
      );
      return sendBytes(
        reply,
        {
          name: f.file.name,
          mime: f.file.mime,
          size: f.file.size,
          range: m ? { start: f.start, end: f.end } : undefined,
        },
        f.bytes,
      );
    };
    const Attached = z.strictObject({ twin: z.string().min(1).max(64), file: FileRef.shape.id });
    app.get('/api/chats/:twin/attachments/:file', async (req, reply) => {
      const p = parse(Attached, req.params, 'path');
      const t = await twin(p.twin);
      for (const author of [t, x.self])
        if (x.chat.carries(String(t), author, p.file)) return bytesOf(req, reply, author, p.file);
      throw new TwinError('not_found', `no message in this chat carries ${p.file}`);
    });
    const GroupAttached = z.strictObject({
      group: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
      owner: z.string().min(1).max(64),
      file: FileRef.shape.id,
    });
    app.get('/api/groups/:group/attachments/:owner/:file', async (req, reply) => {
      const p = parse(GroupAttached, req.params, 'path');
      const owner = p.owner === 'me' ? x.self : await twin(p.owner);
      if (!x.chat.carries(`g:${p.group}`, owner, p.file))
        throw new TwinError('not_found', `no message of twin ${owner} in this group carries ${p.file}`);
      return bytesOf(req, reply, owner, p.file);
    });
    const thumbnailOf = async (reply: FastifyReply, owner: number, file: string) =>
      sendThumbnail(
        reply,
        owner === x.self ? await x.files.thumbnail(file) : await x.transfers.thumbnail(owner, file),
      );
    app.get('/api/chats/:twin/attachments/:file/thumbnail', async (req, reply) => {
      const p = parse(Attached, req.params, 'path');
      const t = await twin(p.twin);
      for (const author of [t, x.self])
        if (x.chat.carries(String(t), author, p.file)) return thumbnailOf(reply, author, p.file);
      throw new TwinError('not_found', `no message in this chat carries ${p.file}`);
    });
    app.get('/api/groups/:group/attachments/:owner/:file/thumbnail', async (req, reply) => {
      const p = parse(GroupAttached, req.params, 'path');
      const owner = p.owner === 'me' ? x.self : await twin(p.owner);
      if (!x.chat.carries(`g:${p.group}`, owner, p.file))
        throw new TwinError('not_found', `no message of twin ${owner} in this group carries ${p.file}`);
      return thumbnailOf(reply, owner, p.file);
    });
    app.get('/api/posts/:author/:id/images/:file', async (req, reply) => {
      const p = parse(
        z.strictObject({ author: z.string().min(1).max(64), id: FileRef.shape.id, file: FileRef.shape.id }),
        req.params,
        'path',
      );
      const author = p.author === 'me' || p.author === String(x.self) ? x.self : await twin(p.author);
      x.posts.image(author, p.id, p.file);
      return bytesOf(req, reply, author, p.file);
    });
    app.delete('/api/posts/:id', async (req, reply) => {
      const { id } = parse(FileRef, req.params, 'path');
      await x.posts.delete(id);
      return reply.status(204).send();
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
const pathParams = (...names: string[]) =>
  names.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));

export const CONTENT_PATHS: Record<string, Record<string, unknown>> = {
  '/api/chats/{twin}/attachments/{file}': {
    get: {
      summary: "a file attached to a message of this chat, fetched from its sender's twin (Range supported)",
      tags: ['chat'],
      parameters: pathParams('twin', 'file'),
      responses: { 200: { description: 'the bytes' } },
    },
  },
  '/api/groups/{group}/attachments/{owner}/{file}': {
    get: {
      summary:
        "a file attached to a group message, fetched from its sender's twin (owner 'me' for this twin's)",
      tags: ['groups'],
      parameters: pathParams('group', 'owner', 'file'),
      responses: { 200: { description: 'the bytes' } },
    },
  },
  '/api/posts/{author}/{id}/images/{file}': {
    get: {
      summary: "an image of a post, from its author's twin (author 'me' for this twin's posts)",
      tags: ['posts'],
      parameters: pathParams('author', 'id', 'file'),
      responses: { 200: { description: 'the image' } },
    },
  },
  '/api/posts/{id}': {
    delete: {
      summary: "delete one of this twin's posts (contacts are told)",
      tags: ['posts'],
      parameters: pathParams('id'),
      responses: { 204: { description: 'deleted' } },
    },
  },
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
      summary:
        'a WebP thumbnail (≤ 256 px) of an image (PNG, JPEG, WebP, GIF, AVIF ≤ 32 MiB); 404 no_thumbnail otherwise',
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
