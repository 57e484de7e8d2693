/**
 * How the CLI reaches the running twin's API: the port from `<home>/api.json`, the token from
 * `<home>/api-token`. A twin that does not run is TwinError `twin_not_running` (one line saying
 * how to start it); an API refusal is a TwinError with the API's code and message.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { notRunning } from '../control.ts';
import { TwinError, type TwinErrorCode } from '../errors.ts';
import { API_FILE, TOKEN_FILE } from './files.ts';

/** How long the CLI waits for the API's answer. */
export const API_CALL_TIMEOUT_MS = 60_000;

function endpoint(home: string): { port: number; token: string } {
  try {
    const port = (JSON.parse(readFileSync(join(home, API_FILE), 'utf8')) as { port: number }).port;
    const token = readFileSync(join(home, TOKEN_FILE), 'utf8').trim();
    return { port, token };
  } catch {
    throw notRunning(home);
  }
}

/**
 * A call whose body or answer is bytes (files): the body streamed from `body`, the answer's
 * Response returned once it is a success (its body not read yet); a refusal is TwinError with the
 * API's code, as callApi does. No timeout: a transfer takes as long as it takes.
 */
export async function streamApi(
  home: string,
  method: string,
  path: string,
  o: { body?: AsyncIterable<Uint8Array>; headers?: Record<string, string> } = {},
): Promise<Response> {
  const { port, token } = endpoint(home);
  let res: Response;
  try {
    res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...o.headers },
      ...(o.body
        ? { body: ReadableStream.from(o.body) as unknown as RequestInit['body'], duplex: 'half' as const }
        : {}),
    } as RequestInit);
  } catch {
    throw notRunning(home);
  }
  if (res.ok) return res;
  let err: { code?: string; message?: string } = {};
  try {
    err = (await res.json()) as typeof err;
  } catch {
    // not JSON: the status says it
  }
  throw new TwinError((err.code ?? 'bad_reply') as TwinErrorCode, err.message ?? `HTTP ${res.status}`);
}

export async function callApi<T = unknown>(
  home: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const { port, token } = endpoint(home);
  let res: Response;
  try {
    res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(API_CALL_TIMEOUT_MS),
    });
  } catch (e) {
    if ((e as Error).name === 'TimeoutError')
      throw new TwinError(
        'bad_reply',
        `the twin at ${home} did not answer within ${API_CALL_TIMEOUT_MS / 1000} s`,
      );
    throw notRunning(home);
  }
  let json: unknown;
  try {
    json = await res.json();
  } catch {
    throw new TwinError('bad_reply', `the twin at ${home} answered something that is not JSON`);
  }
  if (!res.ok) {
    const err = json as { code?: string; message?: string };
    throw new TwinError((err.code ?? 'bad_reply') as TwinErrorCode, err.message ?? `HTTP ${res.status}`);
  }
  return json as T;
}
