/** The app's entry: finds out who is signed in, then shows the sign-in screen or the app. */
import '@picocss/pico/css/pico.min.css';
import './app.css';
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { ApiError, get, onSignedOut, reason } from './api.ts';
import { events } from './events.ts';
import { navigate, usePath } from './router.ts';
import { Shell } from './Shell.tsx';
import { prefetchChats } from './screens/chat-list.ts';
import { SignIn } from './screens/SignIn.tsx';
import { SessionProvider } from './session.tsx';
import type { Me } from './types.ts';
import { Toasts } from './ui/kit.tsx';

type Who =
  | { state: 'loading' }
  | { state: 'out' }
  | { state: 'in'; me: Me }
  | { state: 'down'; reason: string };

function App() {
  const path = usePath();
  const [who, setWho] = useState<Who>({ state: 'loading' });
  const [tick, setTick] = useState(0);

  // biome-ignore lint/correctness/useExhaustiveDependencies: tick asks again
  useEffect(() => {
    if (path === '/signin') return;
    let live = true;
    get<Me>('/api/me').then(
      (me) => live && setWho({ state: 'in', me }),
      (e) => {
        if (!live) return;
        if (e instanceof ApiError && e.status === 401) setWho({ state: 'out' });
        else setWho({ state: 'down', reason: reason(e) });
      },
    );
    return () => {
      live = false;
    };
  }, [path === '/signin', tick]);

  useEffect(() => onSignedOut(() => setWho({ state: 'out' })), []);
  useEffect(() => {
    if (who.state !== 'in') return;
    events.start();
    return () => events.stop();
  }, [who]);
  useEffect(() => {
    if (who.state === 'out' && path !== '/signin') navigate('/signin', true);
    if (who.state === 'in' && path === '/') navigate('/chats', true);
  }, [who, path]);

  if (path === '/signin')
    return (
      <SignIn
        onSignedIn={(me) => {
          setWho({ state: 'in', me });
          navigate('/chats', true);
        }}
      />
    );
  if (who.state === 'loading')
    return (
      <main className="container center" aria-busy="true">
        Opening your twin…
      </main>
    );
  if (who.state === 'down')
    return (
      <main className="container center">
        <h1>Your twin does not answer</h1>
        <p role="alert">{who.reason}</p>
        <button type="button" onClick={() => setTick((t) => t + 1)}>
          Try again
        </button>
      </main>
    );
  if (who.state === 'out') return null;
  return (
    <SessionProvider me={who.me}>
      <Shell path={path} />
    </SessionProvider>
  );
}

if (location.pathname !== '/signin') prefetchChats();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
    <Toasts />
  </StrictMode>,
);
