export { type Daemon, type DaemonOptions, mailboxPath, startDaemon } from './daemon.ts';
export { isYggdrasilAddress, yggdrasilAddresses } from './yggdrasil.ts';
