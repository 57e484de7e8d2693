/**
 * The twin's local API, as the app calls it: same origin, JSON in and out, the session cookie (or,
 * after signing in with the API token, a Bearer header). Every failure becomes an ApiError with
 * the API's snake_case code and a sentence a person understands; a route this twin does not have
 * yet (404 `not_found` "no route ...") is `unavailable`, so a screen can say so instead of failing.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The route does not exist on this twin (an older twin, or a feature not built yet). */
  get unavailable(): boolean {
    return this.status === 404 && this.code === 'not_found' && /^no route /.test(this.message);
  }
}

const TOKEN_KEY = 'twin.token';

/** The API token when the person signed in with it (kept for this tab only). */
export function bearer(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setBearer(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

const REASONS: Record<string, string> = {
  unauthorized: 'You are signed out. Sign in again.',
  cross_origin: 'The twin refused this page (it is not opened from the twin’s own address).',
  rate_limited: 'Too many attempts. Wait a minute and try again.',
  unreachable: 'That twin cannot be reached right now. It may be offline.',
  not_contact: 'You can only do this with a contact.',
  already_contact: 'You are already contacts.',
  denied: 'This is not allowed.',
  too_large: 'This is too large.',
  bad_name: 'That name is not allowed (no “/”, not empty, at most 255 bytes).',
  quota_exceeded: 'Your storage is full.',
  unknown_twin: 'No twin has that name.',
  internal: 'The twin failed to answer. Try again.',
  network: 'Your twin did not answer. Is it running?',
};

/** What to show a person for an error: the API's message when it is specific, else a reason by code. */
export function reason(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.unavailable) return 'Your twin does not offer this yet.';
    const generic = REASONS[e.code];
    if (e.code === 'unauthorized' || e.code === 'internal' || e.code === 'network') return generic!;
    return e.message ? sentence(e.message) : (generic ?? `Failed (${e.code}).`);
  }
  if (e instanceof Error) return sentence(e.message);
  return 'Something failed.';
}

const sentence = (s: string) => {
  const t = s.trim();
  return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
};

type Listener = () => void;
const signedOut = new Set<Listener>();
/** Called when any call answers 401: the app shows the sign-in screen. */
export function onSignedOut(l: Listener): () => void {
  signedOut.add(l);
  return () => signedOut.delete(l);
}

function headers(json: boolean): Record<string, string> {
  const h: Record<string, string> = {};
  const token = bearer();
  if (token) h.authorization = `Bearer ${token}`;
  if (json) h['content-type'] = 'application/json';
  return h;
}

async function failure(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = '';
  try {
    const body = (await res.json()) as { code?: string; message?: string };
    code = body.code ?? code;
    message = body.message ?? '';
  } catch {
    // not JSON: a proxy or an old twin
  }
  if (res.status === 401) for (const l of signedOut) l();
  return new ApiError(res.status, code, message);
}

export async function call<T>(
  method: string,
  path: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: headers(body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'network', '');
  }
  if (!res.ok) throw await failure(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const get = <T>(path: string, signal?: AbortSignal) => call<T>('GET', path, undefined, signal);
export const post = <T>(path: string, body: unknown = {}) => call<T>('POST', path, body);
export const put = <T>(path: string, body: unknown = {}) => call<T>('PUT', path, body);
export const patch = <T>(path: string, body: unknown) => call<T>('PATCH', path, body);
export const del = <T>(path: string) => call<T>('DELETE', path);

export interface Upload<T> {
  done: Promise<T>;
  abort(): void;
}

/** PUTs raw bytes with upload progress (fetch has none), e.g. a file into the twin's storage. */
export function upload<T>(
  path: string,
  body: Blob,
  progress: (sent: number, total: number) => void,
): Upload<T> {
  const xhr = new XMLHttpRequest();
  const done = new Promise<T>((resolve, reject) => {
    xhr.open('PUT', path);
    const token = bearer();
    if (token) xhr.setRequestHeader('authorization', `Bearer ${token}`);
    xhr.setRequestHeader('content-type', body.type || 'application/octet-stream');
    xhr.upload.onprogress = (e) => progress(e.loaded, e.lengthComputable ? e.total : body.size);
    xhr.onerror = () => reject(new ApiError(0, 'network', ''));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'Cancelled.'));
    xhr.onload = () => {
      let json: { code?: string; message?: string } = {};
      try {
        json = JSON.parse(xhr.responseText);
      } catch {
        // no JSON body
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(json as T);
      else {
        if (xhr.status === 401) for (const l of signedOut) l();
        reject(new ApiError(xhr.status, json.code ?? `http_${xhr.status}`, json.message ?? ''));
      }
    };
    xhr.send(body);
  });
  return { done, abort: () => xhr.abort() };
}

/**
 * A same-origin URL for bytes (a download, an image). With the session cookie the URL works as it
 * is; with the API token (no cookie) the bytes are fetched with the header into a blob: URL.
 */
export async function bytesUrl(path: string): Promise<string> {
  if (!bearer()) return path;
  const res = await fetch(path, { headers: headers(false) });
  if (!res.ok) throw await failure(res);
  return URL.createObjectURL(await res.blob());
}
