export { type Daemon, type DaemonOptions, mailboxPath, startDaemon } from './daemon.ts';
export { freePort, isYggdrasilAddress, yggdrasilAddresses } from './yggdrasil.ts';
