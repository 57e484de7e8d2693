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
export { FILE_MODE, HOME_MODE, HomeLock, LOCK_FILE, prepareHome, TWIN_UMASK } from './home.ts';
export { freePort, isYggdrasilAddress, yggdrasilAddresses } from './yggdrasil.ts';
