/**
 * @packageDocumentation
 * Digital Twin: the twin process (`startDaemon`: host, bus, BCDB, QSS sweep), its experiences
 * (contacts, profile, chat: protocols between twins on the bus, kept in the twin's own store and
 * BCDB), its local HTTP + WebSocket API (`startApi`, called by `callApi`), its home and control
 * socket.
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
export { freePort, isYggdrasilAddress, yggdrasilAddresses } from './yggdrasil.ts';
