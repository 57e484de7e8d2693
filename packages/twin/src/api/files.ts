/** The files through which the running twin tells local clients where its API is and how to call it. */

/** `<home>/api.json`: `{port, pid}` of the running twin's API. */
export const API_FILE = 'api.json';
/** `<home>/api-token` (0600): the API's bearer token. */
export const TOKEN_FILE = 'api-token';
/** `<home>/sessions.json` (0600): the live browser sessions, as digests, kept across restarts. */
export const SESSIONS_FILE = 'sessions.json';
