import { type ErrorCodes, TwinBaseError } from '@twin/errors';

/** The 3Bot's one error class: a stable snake_case code callers match, and a message for people. */
export type BotErrorCode = ErrorCodes<
  | 'bad_desired_state' // the desired-state file is not valid JSON or breaks a rule (the message says which)
  | 'bad_current_placement' // the current placement given to the planner is malformed
  | 'bad_state' // the 3Bot's own state file is damaged
  | 'deploy_failed' // a node refused or failed a deployment the plan needs
  | 'lease_held' // another 3Bot is running for this twin
  | 'not_found' // no desired state recorded, or no twin home
  | 'not_enough_farms' // fewer farms with room than the QSS groups need
  | 'no_capacity' // no node that is up has room for what is asked
>;

export class BotError extends TwinBaseError<BotErrorCode> {
  override readonly name = 'BotError';
}
