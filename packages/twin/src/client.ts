/**
 * @packageDocumentation
 * The running twin's local API as the CLI calls it (`@twin/twin/client`): `callApi`, `controlCall`
 * (the control socket) and the types
 * of what the API answers. Loads no network, storage or server code, so CLI commands that only
 * talk to the twin start fast.
 */
export { API_CALL_TIMEOUT_MS, callApi, streamApi } from './api/client.ts';
export { API_FILE, TOKEN_FILE } from './api/files.ts';
export { controlCall } from './control.ts';
export type { Message, MessageState } from './experiences/chat.ts';
export type { Contact, ContactRequestRow } from './experiences/contacts.ts';
export type { TwinEvent } from './experiences/events.ts';
export type { FileEntry, ShareMode } from './experiences/files.ts';
export type { GroupState, Profile } from './experiences/protocol.ts';
