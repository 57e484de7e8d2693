/**
 * The experiences' commands on the twin bus and the payloads they carry, validated with zod as
 * they arrive: a payload from another twin is never used before its schema accepts it.
 */
import { z } from 'zod';
import { TwinError } from '../errors.ts';

/** Longest message of a contact request (characters). */
export const MAX_REQUEST_MESSAGE = 500;
/** Longest chat message text (characters); the bus's envelope cap is far above. */
export const MAX_TEXT = 16_384;
/** Largest avatar (bytes, decoded). */
export const MAX_AVATAR = 256 * 1024;

export const COMMANDS = {
  contactRequest: 'contact.request', // request/response: the answer says received or rate_limited
  contactAccepted: 'contact.accepted', // one-way
  contactDeclined: 'contact.declined', // one-way
  contactRemoved: 'contact.removed', // one-way
  profileGet: 'profile.get', // request/response, ACL-checked by the owner's BCDB
  profileChanged: 'profile.changed', // one-way, to every contact
  chatMessage: 'chat.message', // one-way
  chatEdit: 'chat.edit', // one-way
  chatDelete: 'chat.delete', // one-way
  chatReact: 'chat.react', // one-way
  chatRead: 'chat.read', // one-way
  chatTyping: 'chat.typing', // request, never queued
  groupState: 'group.state', // one-way, from the member who changed the membership to every member
  groupMessage: 'group.message', // one-way, from the sender to every member
} as const;

/** Members of one group at most. */
export const MAX_GROUP_MEMBERS = 256;

const messageId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/);

/** Files one message carries at most. */
export const MAX_ATTACHMENTS = 10;
/** A file attached to a message: its bytes stay in the sender's storage (fetched over a byte stream). */
export const Attachment = z.strictObject({
  file: z.string().regex(/^[0-9a-f]{24}$/),
  name: z.string().min(1).max(255),
  size: z.number().int().nonnegative(),
  mime: z.string().max(255),
  /** The sender keeps a thumbnail of it (an image). */
  thumbnail: z.boolean().optional(),
});
export type Attachment = z.infer<typeof Attachment>;
const attachments = z.array(Attachment).max(MAX_ATTACHMENTS).optional();

export const ContactRequest = z.strictObject({ message: z.string().max(MAX_REQUEST_MESSAGE) });
export const ContactRequestAnswer = z.strictObject({
  ok: z.boolean(),
  code: z.string().optional(),
  accepted: z.boolean().optional(),
});
export const Empty = z.strictObject({});

export const Profile = z.strictObject({
  name: z.string().max(64),
  status: z.string().max(280),
  /** A data: URL (image/png, image/jpeg, image/webp) or empty. */
  avatar: z
    .string()
    .max(Math.ceil((MAX_AVATAR * 4) / 3) + 64)
    .regex(/^(data:image\/(png|jpeg|webp);base64,[A-Za-z0-9+/=]+)?$/),
  updated: z.number().int().nonnegative(),
});
export type Profile = z.infer<typeof Profile>;

export const ChatMessage = z.strictObject({
  id: messageId,
  sent: z.number().int().nonnegative(),
  text: z.string().max(MAX_TEXT),
  replyTo: messageId.nullable(),
  attachments,
});
export const ChatEdit = z.strictObject({ id: messageId, text: z.string().min(1).max(MAX_TEXT) });
export const ChatDelete = z.strictObject({ id: messageId });
export const ChatReact = z.strictObject({ id: messageId, emoji: z.string().min(1).max(16), on: z.boolean() });
export const ChatRead = z.strictObject({ ids: z.array(messageId).min(1).max(1000) });

const groupId = z.string().regex(/^[A-Za-z0-9_-]{16,64}$/);

/** A group's membership at one version; the bus envelope that carries it is signed by `by`. */
export const GroupState = z.strictObject({
  id: groupId,
  name: z.string().min(1).max(100),
  version: z.number().int().positive(),
  members: z
    .array(z.strictObject({ twin: z.number().int().positive(), role: z.enum(['admin', 'member']) }))
    .min(1)
    .max(MAX_GROUP_MEMBERS),
  /** The twin that made this version (must be the envelope's signer). */
  by: z.number().int().positive(),
  at: z.number().int().nonnegative(),
});
export type GroupState = z.infer<typeof GroupState>;

export const GroupMessage = z.strictObject({
  group: groupId,
  id: messageId,
  sent: z.number().int().nonnegative(),
  text: z.string().max(MAX_TEXT),
  replyTo: messageId.nullable(),
  attachments,
});

/** Parses a payload from another twin; TwinError `bad_request` when it does not fit. */
export function parsePayload<T>(schema: z.ZodType<T>, payload: Buffer): T {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new TwinError('bad_request', 'payload is not JSON');
  }
  const r = schema.safeParse(json);
  if (!r.success) throw new TwinError('bad_request', `payload refused: ${r.error.issues[0]?.message}`);
  return r.data;
}

export const encode = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
