/**
 * @twin/twin: the Digital Twin process. `startDaemon` runs one twin from its home directory:
 * its identity from the keystore, its libp2p host and twin bus (mailbox for exactly-once
 * delivery), its phonebook record kept current, its BCDB on an embedded 0-db served to peers
 * where ACLs allow, the local control socket its CLI talks to, Yggdrasil addresses when present,
 * and the QSS repair sweep when configured. The home is private (0700/0600) and locked while
 * the twin runs. Its experiences (contacts, profile, chat) are protocols between twins on the bus,
 * kept in the twin's own store and BCDB, served to the web app and the CLI by its local HTTP +
 * WebSocket API (`startApi`, called by `callApi`).
 *
 * Main types: {@link startDaemon} / {@link Daemon}, {@link controlCall} (the CLI's way in),
 * {@link openStore} / {@link rebuildStore} (the BCDB with the twin stopped), {@link prepareHome}
 * and {@link HomeLock}. Errors: {@link TwinError} with codes `twin_running`,
 * `twin_not_running`, `home_invalid`, `home_insecure`, `bad_reply`; the packages below keep
 * their own (IdentityError, PhonebookError, NetworkError, BcdbError).
 *
 * @example
 * ```ts
 * const twin = await startDaemon({ home: '/home/alice/.twin', phonebook: 'http://127.0.0.1:8730' });
 * await twin.bus.send('bob', 'chat.message', Buffer.from('hi'));
 * await twin.stop();
 * ```
 */
export { API_CALL_TIMEOUT_MS, callApi } from './api/client.ts';
export { API_FILE, TOKEN_FILE } from './api/files.ts';
export { type ApiServer, DEFAULT_API_PORT, startApi } from './api/server.ts';
export { CONTROL_REPLY_TIMEOUT_MS, controlCall, controlPath, notRunning, serveControl } from './control.ts';
export {
  BCDB_NAMESPACE,
  type Daemon,
  type DaemonOptions,
  mailboxPath,
  openStore,
  RECORD_CHECK_INTERVAL_MS,
  rebuildStore,
  type Store,
  startDaemon,
} from './daemon.ts';
export { TwinError, type TwinErrorCode } from './errors.ts';
export {
  type Contact,
  type ContactRequestRow,
  type Experiences,
  type Message,
  type MessageState,
  openExperiences,
  type Profile,
  type TwinEvent,
} from './experiences/index.ts';
export { FILE_MODE, HOME_MODE, HomeLock, LOCK_FILE, prepareHome, TWIN_UMASK } from './home.ts';
export { freePort, freePortRange, isYggdrasilAddress, yggdrasilAddresses } from './yggdrasil.ts';
