export type TwinErrorCode =
  | 'twin_running' // the command needs the twin stopped, and it runs
  | 'twin_not_running' // the command talks to the running twin, and it does not run
  | 'home_invalid' // the home directory cannot be created or used
  | 'home_insecure' // the home (or a file in it) is open to other users and cannot be tightened
  | 'bad_reply'; // the running twin answered something that is not a reply

export class TwinError extends Error {
  constructor(
    readonly code: TwinErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TwinError';
  }
}
