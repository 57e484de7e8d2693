import { type ErrorCodes, TwinBaseError } from '@twin/errors';

/** Stable error codes of the twin package. */
export type TwinErrorCode = ErrorCodes<
  | 'twin_running' // the command needs the twin stopped, and it runs
  | 'twin_not_running' // the command talks to the running twin, and it does not run
  | 'home_invalid' // the home directory cannot be created or used
  | 'home_insecure' // the home (or a file in it) is open to other users and cannot be tightened
  | 'bad_reply' // the running twin answered something that is not a reply
  | 'bad_request' // a body, query or parameter failed validation
  | 'bad_json' // a body that is not JSON
  | 'unauthorized' // the API was called without a valid token or session
  | 'cross_origin' // the API was called from a web page of another origin
  | 'not_found' // no such contact, request, chat or message
  | 'not_contact' // the twin is not a contact: its chat messages are refused
  | 'already_contact' // a contact request to a twin that already is one
  | 'denied' // the caller may not do this (edit another's message, read a profile unshared)
  | 'rate_limited' // too many requests from one sender: try again later
  | 'too_large' // a body, message or avatar above its limit
  | 'unreachable' // the other twin could not be reached now
  | 'bad_name' // a file or folder name that is empty, too long, '.', '..', or holds '/' or NUL
  | 'exists' // a file or folder of that name is already there
  | 'bad_hash' // bytes from another twin that do not match their hash
  | 'no_thumbnail' // the file has no thumbnail (not an image)
  | 'bad_range' // a Range outside the file
  | 'changed' // the file changed on its owner's twin while it was being fetched
>;

/** The one error class of the twin package. */
export class TwinError extends TwinBaseError<TwinErrorCode> {
  override readonly name = 'TwinError';
}
