export { controlCall, controlPath, serveControl } from './control.ts';
export {
  BCDB_NAMESPACE,
  type Daemon,
  type DaemonOptions,
  mailboxPath,
  openStore,
  startDaemon,
} from './daemon.ts';
export { freePort, isYggdrasilAddress, yggdrasilAddresses } from './yggdrasil.ts';
