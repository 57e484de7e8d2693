/**
 * Every route of the local API in one table: method, path, what it does, the zod schemas of its
 * parameters, query and body, and its handler. The server registers them and the OpenAPI
 * document is generated from the same table, so the two cannot drift apart.
 */
import { z } from 'zod';
import { TwinError } from '../errors.ts';
import { splitPath } from '../experiences/files.ts';
import type { Experiences } from '../experiences/index.ts';
import { MAX_COMMENT_TEXT, MAX_POST_IMAGES, MAX_POST_TEXT } from '../experiences/posts.ts';
import { type Attachment, MAX_ATTACHMENTS, MAX_REQUEST_MESSAGE, MAX_TEXT } from '../experiences/protocol.ts';

export interface RouteInput {
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  summary: string;
  tag: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  // biome-ignore lint/suspicious/noExplicitAny: each route's input is typed by its own schemas
  handler(input: { params: any; query: any; body: any }): Promise<unknown> | unknown;
}

const TwinRef = z.strictObject({ twin: z.string().min(1).max(64) });
const MessageRef = z.strictObject({ twin: z.string().min(1).max(64), id: z.string().min(1).max(64) });
const GroupRef = z.strictObject({ group: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/) });
const limit = z.coerce.number().int().min(1).max(200).optional();
/** A path in the twin's files ('/Photos/2026'); each name is checked by files.ts (`bad_name`). */
export const FilePath = z.string().min(1).max(4096);
export const FileRef = z.strictObject({
  id: z.string().regex(/^[0-9a-f]{24}$/, 'a file id is 24 hex digits'),
});
export const SharedRef = z.strictObject({ owner: z.string().min(1).max(64), id: FileRef.shape.id });

/** A message's body: text (may be empty when files are attached), a reply, files of this twin's. */
const MessageBody = z
  .strictObject({
    text: z.string().max(MAX_TEXT).default(''),
    replyTo: z.string().max(64).nullable().default(null),
    attachments: z
      .array(z.strictObject({ file: FileRef.shape.id }))
      .max(MAX_ATTACHMENTS)
      .default([]),
  })
  .refine((b) => b.text.length > 0 || b.attachments.length > 0, 'a message needs text or an attachment');

const AuthorRef = z.strictObject({ author: z.string().min(1).max(64), id: FileRef.shape.id });

export function routes(x: Experiences): Route[] {
  const twin = async (ref: string) => (await x.contacts.resolve(ref)).twin;
  /** Files of this twin's to attach: what the message tells about each. */
  const attach = (list: { file: string }[]): Attachment[] =>
    list.map(({ file }) => {
      const e = x.files.get(file);
      if (e.kind !== 'file') throw new TwinError('bad_request', `${file} is a folder: attach files`);
      return { file, name: e.name, size: e.size, mime: e.mime, thumbnail: e.thumbnail };
    });
  const author = async (ref: string) => (ref === 'me' || ref === String(x.self) ? x.self : await twin(ref));
  return [
    {
      method: 'GET',
      url: '/api/me',
      tag: 'twin',
      summary: "this twin's id and name",
      handler: () => ({ twin: x.self, name: x.name }),
    },
    {
      method: 'GET',
      url: '/api/lookup/:name',
      tag: 'contacts',
      summary: 'find a twin by name (verified phonebook lookup)',
      params: z.strictObject({ name: z.string().min(1).max(64) }),
      handler: ({ params }) => x.contacts.resolve(params.name),
    },
    {
      method: 'GET',
      url: '/api/contacts',
      tag: 'contacts',
      summary: 'contacts, with presence',
      handler: () => ({ contacts: x.contacts.list() }),
    },
    {
      method: 'POST',
      url: '/api/contacts',
      tag: 'contacts',
      summary: 'ask a twin (by name) to become a contact',
      body: z.strictObject({
        name: z.string().min(1).max(64),
        message: z.string().max(MAX_REQUEST_MESSAGE).default(''),
      }),
      handler: ({ body }) => x.contacts.request(body.name, body.message),
    },
    {
      method: 'GET',
      url: '/api/contacts/requests',
      tag: 'contacts',
      summary: 'contact requests received (in) and sent (out), pending',
      handler: () => ({ requests: x.contacts.requests() }),
    },
    ...(['accept', 'decline', 'ignore'] as const).map(
      (action): Route => ({
        method: 'POST',
        url: `/api/contacts/requests/:twin/${action}`,
        tag: 'contacts',
        summary: `${action} a contact request`,
        params: TwinRef,
        handler: async ({ params }) => {
          const t = await twin(params.twin);
          await (action === 'ignore' ? x.contacts.ignore(t) : x.contacts[action](t));
          return { twin: t, status: action === 'accept' ? 'accepted' : `${action}d` };
        },
      }),
    ),
    {
      method: 'DELETE',
      url: '/api/contacts/:twin',
      tag: 'contacts',
      summary: 'remove a contact (it is told)',
      params: TwinRef,
      handler: async ({ params }) => {
        const t = await twin(params.twin);
        await x.contacts.remove(t);
        return { twin: t, status: 'removed' };
      },
    },
    {
      method: 'GET',
      url: '/api/blocked',
      tag: 'contacts',
      summary: 'blocked twins',
      handler: () => ({ blocked: x.contacts.blocked() }),
    },
    {
      method: 'POST',
      url: '/api/blocked/:twin',
      tag: 'contacts',
      summary: 'block a twin (it is not told)',
      params: TwinRef,
      handler: async ({ params }) => {
        const t = await x.contacts.resolve(params.twin);
        x.contacts.block(t.twin, t.name);
        return { twin: t.twin, status: 'blocked' };
      },
    },
    {
      method: 'DELETE',
      url: '/api/blocked/:twin',
      tag: 'contacts',
      summary: 'unblock a twin',
      params: TwinRef,
      handler: async ({ params }) => {
        const t = await twin(params.twin);
        x.contacts.unblock(t);
        return { twin: t, status: 'unblocked' };
      },
    },
    {
      method: 'GET',
      url: '/api/profile',
      tag: 'profile',
      summary: "this twin's profile",
      handler: () => x.profile.get(),
    },
    {
      method: 'PUT',
      url: '/api/profile',
      tag: 'profile',
      summary: "change this twin's profile (contacts are sent the new one)",
      body: z.strictObject({
        name: z.string().max(64).optional(),
        status: z.string().max(280).optional(),
        avatar: z.string().optional(),
      }),
      handler: ({ body }) => x.profile.set(body),
    },
    {
      method: 'GET',
      url: '/api/contacts/:twin/profile',
      tag: 'profile',
      summary: "a contact's profile (fresh from its twin with ?fresh=1, else the last copy it sent)",
      params: TwinRef,
      query: z.strictObject({ fresh: z.enum(['0', '1']).optional() }),
      handler: async ({ params, query }) => ({
        profile: await x.profile.of(await twin(params.twin), query.fresh === '1'),
      }),
    },
    {
      method: 'GET',
      url: '/api/chats',
      tag: 'chat',
      summary: 'chats with their unread counts and last message',
      handler: () => ({ chats: x.chat.list() }),
    },
    {
      method: 'GET',
      url: '/api/chats/:twin/messages',
      tag: 'chat',
      summary: 'history, newest first; pass the returned `before` for the previous page',
      params: TwinRef,
      query: z.strictObject({ before: z.coerce.number().int().positive().optional(), limit }),
      handler: async ({ params, query }) =>
        x.chat.history(await twin(params.twin), query.before, query.limit),
    },
    {
      method: 'POST',
      url: '/api/chats/:twin/messages',
      tag: 'chat',
      summary: 'send a message (optionally a reply to another)',
      params: TwinRef,
      body: MessageBody,
      handler: async ({ params, body }) =>
        x.chat.send(await twin(params.twin), body.text, body.replyTo, attach(body.attachments)),
    },
    {
      method: 'PATCH',
      url: '/api/chats/:twin/messages/:id',
      tag: 'chat',
      summary: 'edit one of our messages',
      params: MessageRef,
      body: z.strictObject({ text: z.string().min(1).max(MAX_TEXT) }),
      handler: async ({ params, body }) => x.chat.edit(await twin(params.twin), params.id, body.text),
    },
    {
      method: 'DELETE',
      url: '/api/chats/:twin/messages/:id',
      tag: 'chat',
      summary: 'delete one of our messages for everyone',
      params: MessageRef,
      handler: async ({ params }) => {
        await x.chat.delete(await twin(params.twin), params.id);
        return { id: params.id, status: 'deleted' };
      },
    },
    {
      method: 'POST',
      url: '/api/chats/:twin/messages/:id/reactions',
      tag: 'chat',
      summary: 'add (on) or take back (off) an emoji reaction',
      params: MessageRef,
      body: z.strictObject({ emoji: z.string().min(1).max(16), on: z.boolean().default(true) }),
      handler: async ({ params, body }) =>
        x.chat.reactTo(await twin(params.twin), params.id, body.emoji, body.on),
    },
    {
      method: 'POST',
      url: '/api/chats/:twin/read',
      tag: 'chat',
      summary: 'mark the chat read (the other twin gets read receipts)',
      params: TwinRef,
      handler: async ({ params }) => ({ read: await x.chat.markRead(await twin(params.twin)) }),
    },
    {
      method: 'POST',
      url: '/api/chats/:twin/typing',
      tag: 'chat',
      summary: 'tell the other twin we are typing (ephemeral, never queued)',
      params: TwinRef,
      handler: async ({ params }) => ({ told: await x.chat.typing(await twin(params.twin)) }),
    },
    {
      method: 'GET',
      url: '/api/groups',
      tag: 'groups',
      summary: 'groups this twin is a member of, with their membership',
      handler: () => ({ groups: x.groups.list() }),
    },
    {
      method: 'POST',
      url: '/api/groups',
      tag: 'groups',
      summary: 'create a group with contacts (this twin is its admin)',
      body: z.strictObject({
        name: z.string().min(1).max(100),
        members: z.array(z.string().min(1).max(64)).max(255),
      }),
      handler: async ({ body }) => x.groups.create(body.name, await Promise.all(body.members.map(twin))),
    },
    {
      method: 'PATCH',
      url: '/api/groups/:group',
      tag: 'groups',
      summary: 'rename a group (admins)',
      params: GroupRef,
      body: z.strictObject({ name: z.string().min(1).max(100) }),
      handler: ({ params, body }) => x.groups.rename(params.group, body.name),
    },
    {
      method: 'POST',
      url: '/api/groups/:group/members',
      tag: 'groups',
      summary: 'add a contact to a group (admins)',
      params: GroupRef,
      body: z.strictObject({
        name: z.string().min(1).max(64),
        role: z.enum(['admin', 'member']).default('member'),
      }),
      handler: async ({ params, body }) => x.groups.add(params.group, await twin(body.name), body.role),
    },
    {
      method: 'DELETE',
      url: '/api/groups/:group/members/:twin',
      tag: 'groups',
      summary: 'remove a member from a group (admins); it is sent nothing afterwards',
      params: z.strictObject({ group: GroupRef.shape.group, twin: z.string().min(1).max(64) }),
      handler: async ({ params }) => x.groups.remove(params.group, await twin(params.twin)),
    },
    {
      method: 'POST',
      url: '/api/groups/:group/leave',
      tag: 'groups',
      summary: 'leave a group',
      params: GroupRef,
      handler: async ({ params }) => {
        await x.groups.leave(params.group);
        return { group: params.group, status: 'left' };
      },
    },
    {
      method: 'GET',
      url: '/api/groups/:group/messages',
      tag: 'groups',
      summary: "a group's history, newest first",
      params: GroupRef,
      query: z.strictObject({ before: z.coerce.number().int().positive().optional(), limit }),
      handler: ({ params, query }) => x.chat.historyOf(`g:${params.group}`, query.before, query.limit),
    },
    {
      method: 'POST',
      url: '/api/groups/:group/messages',
      tag: 'groups',
      summary: 'send a message to every member of a group',
      params: GroupRef,
      body: MessageBody,
      handler: async ({ params, body }) =>
        x.chat.message(
          (await x.groups.send(params.group, body.text, body.replyTo, attach(body.attachments))).id,
        ),
    },
    {
      method: 'POST',
      url: '/api/groups/:group/read',
      tag: 'groups',
      summary: "mark a group's messages read (no receipts in groups)",
      params: GroupRef,
      handler: ({ params }) => ({ read: x.chat.markReadOf(`g:${params.group}`).length }),
    },
    {
      method: 'GET',
      url: '/api/files',
      tag: 'files',
      summary: 'the entries of a folder (default the root), folders first',
      query: z.strictObject({ path: FilePath.default('/') }),
      handler: ({ query }) => x.files.list(query.path),
    },
    {
      method: 'GET',
      url: '/api/files/search',
      tag: 'files',
      summary: 'files and folders whose name holds the text (case-insensitive), with their folder path',
      query: z.strictObject({ q: z.string().min(1).max(255) }),
      handler: ({ query }) => ({ entries: x.files.search(query.q) }),
    },
    {
      method: 'GET',
      url: '/api/files/:id',
      tag: 'files',
      summary: 'one entry, with its path',
      params: FileRef,
      handler: ({ params }) => ({ entry: { ...x.files.get(params.id), path: x.files.pathOf(params.id) } }),
    },
    {
      method: 'POST',
      url: '/api/folders',
      tag: 'files',
      summary: 'create a folder (and its parents)',
      body: z.strictObject({ path: FilePath }),
      handler: ({ body }) => ({ entry: x.files.mkdir(body.path) }),
    },
    {
      method: 'PATCH',
      url: '/api/files/:id',
      tag: 'files',
      summary: "rename and/or move an entry (parent: the new folder's path)",
      params: FileRef,
      body: z.strictObject({ name: z.string().max(1024).optional(), parent: FilePath.optional() }),
      handler: ({ params, body }) => ({
        entry: x.files.move(params.id, {
          name: body.name,
          parent: body.parent === undefined ? undefined : x.files.folder(splitPath(body.parent)),
        }),
      }),
    },
    {
      method: 'PUT',
      url: '/api/files/:id/shares/:twin',
      tag: 'files',
      summary: 'share an entry with a contact, read-only or read-write (a folder: everything under it)',
      params: z.strictObject({ id: FileRef.shape.id, twin: z.string().min(1).max(64) }),
      body: z.strictObject({ mode: z.enum(['read', 'write']) }),
      handler: async ({ params, body }) => {
        const t = await twin(params.twin);
        return { entry: await x.transfers.share(params.id, t, body.mode) };
      },
    },
    {
      method: 'GET',
      url: '/api/shared',
      tag: 'files',
      summary:
        "what contacts share with this twin (asked from their twins; those that do not answer are in 'unreachable')",
      handler: () => x.transfers.sharedWithMe(),
    },
    {
      method: 'GET',
      url: '/api/shared/:owner/:id',
      tag: 'files',
      summary: 'the entries of a folder another twin shares with this one (path: below it)',
      params: SharedRef,
      query: z.strictObject({ path: z.string().max(4096).default('') }),
      handler: async ({ params, query }) => ({
        entries: await x.transfers.listShared(
          await twin(params.owner),
          params.id,
          query.path === '/' ? '' : query.path,
        ),
      }),
    },
    {
      method: 'GET',
      url: '/api/posts/feed',
      tag: 'posts',
      summary:
        "this twin's posts and its contacts' (pulled from their twins; cached: opens offline), newest first; 'stale' lists contacts that did not answer",
      query: z.strictObject({
        before: z.coerce.number().int().positive().optional(),
        limit: z.coerce.number().int().min(1).max(100).optional(),
        cached: z.enum(['0', '1']).optional(),
      }),
      handler: ({ query }) =>
        x.posts.feed({ before: query.before, limit: query.limit, cached: query.cached === '1' }),
    },
    {
      method: 'POST',
      url: '/api/posts',
      tag: 'posts',
      summary: 'post text with images (files of this twin; contacts may fetch them)',
      body: z.strictObject({
        text: z.string().max(MAX_POST_TEXT).default(''),
        images: z
          .array(z.strictObject({ file: FileRef.shape.id }))
          .max(MAX_POST_IMAGES)
          .default([]),
      }),
      handler: async ({ body }) => ({ post: await x.posts.create(body.text, body.images) }),
    },
    ...([true, false] as const).map(
      (on): Route => ({
        method: on ? 'PUT' : 'DELETE',
        url: '/api/posts/:author/:id/like',
        tag: 'posts',
        summary: on ? 'like a post' : 'take back a like',
        params: AuthorRef,
        handler: async ({ params }) => ({
          likes: await x.posts.like(await author(params.author), params.id, on),
        }),
      }),
    ),
    {
      method: 'POST',
      url: '/api/posts/:author/:id/comments',
      tag: 'posts',
      summary: 'comment on a post (a reply when replyTo names one of its comments)',
      params: AuthorRef,
      body: z.strictObject({
        text: z.string().min(1).max(MAX_COMMENT_TEXT),
        replyTo: FileRef.shape.id.nullable().default(null),
      }),
      handler: async ({ params, body }) => ({
        comment: await x.posts.comment(await author(params.author), params.id, body.text, body.replyTo),
      }),
    },
    {
      method: 'GET',
      url: '/api/search',
      tag: 'chat',
      summary: "full-text search over this twin's messages",
      query: z.strictObject({ q: z.string().min(1).max(256), limit }),
      handler: ({ query }) => ({ messages: x.chat.search(query.q, query.limit) }),
    },
  ];
}
