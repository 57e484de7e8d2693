/**
 * Sign in: a one-time link (`/signin#once=TOKEN`, printed by `twin demo`) signs in by itself; else
 * the keystore's passphrase (a session cookie) or the API token from `<home>/api-token`.
 */
import { useEffect, useRef, useState } from 'react';
import { ApiError, get, post, reason, setBearer } from '../api.ts';
import type { Me } from '../types.ts';

export function SignIn(props: { onSignedIn: (me: Me) => void }) {
  const [mode, setMode] = useState<'passphrase' | 'token'>('passphrase');
  const [secret, setSecret] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const once = useRef(false);
  const { onSignedIn } = props;

  useEffect(() => {
    const token = new URLSearchParams(location.hash.slice(1)).get('once');
    if (!token || once.current) return;
    once.current = true;
    history.replaceState(null, '', '/signin'); // the token is spent: never leave it in the address bar
    setBusy('Signing in with your link…');
    post('/api/session/once', { token })
      .then(() => get<Me>('/api/me'))
      .then(onSignedIn, (e) => {
        setBusy(null);
        if (e instanceof ApiError && e.unavailable)
          setError('This twin does not accept sign-in links. Sign in with your passphrase or API token.');
        else if (e instanceof ApiError && (e.status === 401 || e.status === 404 || e.status === 410))
          setError(
            'This sign-in link was already used or has expired. Ask for a new one (`twin demo` prints them), or sign in below.',
          );
        else setError(reason(e));
      });
  }, [onSignedIn]);

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    setError(null);
    setBusy('Signing in…');
    try {
      setBearer(null);
      if (mode === 'passphrase') await post('/api/login', { passphrase: secret });
      else setBearer(secret.trim());
      const me = await get<Me>('/api/me');
      setSecret('');
      onSignedIn(me);
    } catch (err) {
      setBearer(null);
      setBusy(null);
      setError(
        err instanceof ApiError && err.status === 401
          ? mode === 'passphrase'
            ? 'That passphrase does not open this twin’s keystore.'
            : 'That is not this twin’s API token.'
          : reason(err),
      );
    }
  }

  return (
    <main className="container signin">
      <article>
        <header>
          <h1>Digital Twin</h1>
          <p>Sign in to your twin.</p>
        </header>
        <form onSubmit={submit}>
          <fieldset role="group" aria-label="How to sign in">
            <button
              type="button"
              className={mode === 'passphrase' ? '' : 'outline'}
              aria-pressed={mode === 'passphrase'}
              onClick={() => setMode('passphrase')}
            >
              Passphrase
            </button>
            <button
              type="button"
              className={mode === 'token' ? '' : 'outline'}
              aria-pressed={mode === 'token'}
              onClick={() => setMode('token')}
            >
              API token
            </button>
          </fieldset>
          <label>
            {mode === 'passphrase'
              ? 'Keystore passphrase'
              : 'API token (in your twin’s home, file api-token)'}
            <input
              type="password"
              name={mode}
              autoComplete={mode === 'passphrase' ? 'current-password' : 'off'}
              value={secret}
              onChange={(e) => setSecret(e.target.value)}
              required
              aria-invalid={error ? true : undefined}
              aria-describedby="signin-error"
            />
          </label>
          <button type="submit" aria-busy={busy ? true : undefined} disabled={busy !== null}>
            {busy ?? 'Sign in'}
          </button>
          <p id="signin-error" className="status failed" role="alert">
            {error}
          </p>
        </form>
        <footer>
          <small>
            Started with <code>twin demo</code>? Open one of the links it printed.
          </small>
        </footer>
      </article>
    </main>
  );
}
