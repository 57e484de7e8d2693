/**
 * The twin's experiences on its bus and store: contacts, profile and chat, and the events they
 * publish for local clients. `open` before the bus starts (so no message arrives unhandled),
 * `resume` once it runs.
 */
import type { Bcdb } from '@twin/bcdb';
import type { TwinIdentity } from '@twin/identity';
import type { Mailbox, TwinBus } from '@twin/network';
import type { Qss } from '@twin/qss';
import type { ZdbClient } from '@twin/zdb';
import { Blobs, ZdbBlobs } from './blobs.ts';
import { Chat } from './chat.ts';
import { Contacts } from './contacts.ts';
import { EventHub } from './events.ts';
import { Files } from './files.ts';
import { Groups } from './groups.ts';
import { Posts } from './posts.ts';
import { Profiles } from './profile.ts';
import { Sealer } from './sealer.ts';
import { ExperienceStore, experiencesPath } from './store.ts';
import { Transfers } from './transfer.ts';
import { Vault } from './vault.ts';

export interface Experiences {
  self: number;
  name: string;
  events: EventHub;
  contacts: Contacts;
  profile: Profiles;
  chat: Chat;
  groups: Groups;
  files: Files;
  transfers: Transfers;
  posts: Posts;
  /** Resends what a previous run stored but did not queue; reconciles the profile's ACL. */
  resume(): Promise<void>;
  close(): Promise<void>;
}

export function openExperiences(o: {
  home: string;
  /** The at-rest key is derived from its secret (vault.ts). */
  identity: TwinIdentity;
  self: number;
  name: string;
  bus: TwinBus;
  mailbox: Mailbox;
  bcdb: Bcdb;
  /** The embedded 0-db's files namespace: where file chunks go without QSS. */
  files: ZdbClient;
  /** The twin's QSS once configured: new files go there. */
  qss?: () => Qss | undefined;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}): Experiences {
  const store = ExperienceStore.open(experiencesPath(o.home), new Vault(o.identity.signingSecret));
  const events = new EventHub();
  const contacts = new Contacts(store, o.bus, events, o.self);
  const profile = new Profiles(store, o.bus, o.bcdb, contacts, events, o.log);
  const sealer = new Sealer(o.identity, o.bus);
  const chat = new Chat(store, o.bus, contacts, events, o.self, sealer);
  const groups = new Groups(store, o.bus, contacts, events, o.self, (id) => o.mailbox.status(id), sealer);
  const files = new Files(
    store,
    new Blobs(new ZdbBlobs(o.files, store.vault.filesKey), o.qss ?? (() => undefined)),
    events,
    o.self,
  );
  const posts = new Posts(store, o.bus, contacts, files, events, sealer, o.self, o.name);
  /** A file attached to a message this twin sent in a chat `twin` is in (1:1, or a group it is a member of now). */
  const attachmentReader = (twin: number, file: string) =>
    store
      .chatsSharing(file, o.self)
      .some((c) =>
        c.startsWith('g:')
          ? (groups.get(c.slice(2))?.members.some((m) => m.twin === twin) ?? false)
          : c === String(twin),
      );
  const transfers = new Transfers(
    o.bus,
    files,
    contacts,
    events,
    (twin, file) => attachmentReader(twin, file) || posts.mayRead(twin, file),
  );
  contacts.onChange((twin, isContact) => {
    if (!isContact) files.unshareAll(twin);
  });
  transfers.serve();
  posts.serve();
  contacts.serve();
  groups.serve();
  profile.serve();
  chat.serve();
  chat.followOutbox((id) => o.mailbox.status(id));
  return {
    self: o.self,
    name: o.name,
    events,
    contacts,
    profile,
    chat,
    groups,
    files,
    transfers,
    posts,
    async resume() {
      await chat.resume();
      await profile.reconcile();
    },
    async close() {
      await profile.settled();
      store.close();
    },
  };
}

export type { Message, MessageState } from './chat.ts';
export type { Contact, ContactRequestRow } from './contacts.ts';
export type { TwinEvent } from './events.ts';
export type { GroupState, Profile } from './protocol.ts';
