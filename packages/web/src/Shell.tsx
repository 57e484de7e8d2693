/**
 * The signed-in app: a navigation (a side rail on a desktop, a tab bar at the bottom of a phone),
 * the connection state, and the screen for the path. Files, posts and settings load on demand.
 */
import { lazy, Suspense, useEffect, useState } from 'react';
import { bearer, post, setBearer } from './api.ts';
import { type Connection, events } from './events.ts';
import { follow, navigate } from './router.ts';
import { Chats } from './screens/Chats.tsx';
import { Contacts } from './screens/Contacts.tsx';
import { useChats } from './screens/chat-list.ts';
import { useSession } from './session.tsx';
import { Icon } from './ui/icons.tsx';
import { Avatar } from './ui/kit.tsx';

const Files = lazy(() => import('./screens/Files.tsx'));
const Posts = lazy(() => import('./screens/Posts.tsx'));
const Settings = lazy(() => import('./screens/Settings.tsx'));

const TABS = [
  { path: '/chats', label: 'Chats', icon: 'chats' },
  { path: '/contacts', label: 'Contacts', icon: 'contacts' },
  { path: '/files', label: 'Files', icon: 'files' },
  { path: '/posts', label: 'Posts', icon: 'posts' },
  { path: '/settings', label: 'Settings', icon: 'settings' },
] as const;

function useConnection(): Connection {
  const [c, setC] = useState<Connection>(events.state);
  useEffect(() => events.watch(setC), []);
  return c;
}

export function Shell(props: { path: string }) {
  const { me, requests } = useSession();
  const chats = useChats();
  const connection = useConnection();
  const unread = chats.list.reduce((n, c) => n + c.unread, 0);
  const incoming = requests.filter((r) => r.direction === 'in').length;
  const section = `/${props.path.split('/')[1] ?? ''}`;
  const badge = (path: string) => (path === '/chats' ? unread : path === '/contacts' ? incoming : 0);

  useEffect(() => {
    const t = TABS.find((t) => t.path === section);
    document.title = t ? `${t.label} · ${me.name} · Digital Twin` : 'Digital Twin';
  }, [section, me.name]);

  async function signOut() {
    if (!bearer()) await post('/api/logout').catch(() => {});
    setBearer(null);
    navigate('/signin');
  }

  let screen: React.ReactNode;
  if (section === '/chats') screen = <Chats path={props.path} chats={chats} />;
  else if (section === '/contacts') screen = <Contacts />;
  else if (section === '/files') screen = <Files path={props.path} />;
  else if (section === '/posts') screen = <Posts />;
  else if (section === '/settings') screen = <Settings onSignOut={signOut} />;
  else
    screen = (
      <main className="pane">
        <h1>Nothing here</h1>
        <p>
          <a href="/chats" onClick={follow}>
            Go to your chats
          </a>
        </p>
      </main>
    );

  return (
    <div className="shell" data-section={section.slice(1)}>
      <a className="skip" href="#content">
        Skip to content
      </a>
      <nav className="rail" aria-label="Main">
        <div className="me">
          <Avatar name={me.name} size={36} />
          <span className="me-name">{me.name}</span>
        </div>
        <ul>
          {TABS.map((t) => {
            const n = badge(t.path);
            return (
              <li key={t.path}>
                <a href={t.path} onClick={follow} aria-current={section === t.path ? 'page' : undefined}>
                  <span className="icon">
                    <Icon name={t.icon} />
                  </span>
                  <span className="label">{t.label}</span>
                  {n > 0 && (
                    <span className="badge">
                      {n}
                      <span className="sr-only"> new</span>
                    </span>
                  )}
                </a>
              </li>
            );
          })}
        </ul>
      </nav>
      {connection !== 'live' && connection !== 'polling' && (
        <p className="banner" role="status">
          {connection === 'connecting'
            ? 'Connecting to your twin…'
            : 'Connection to your twin lost. Reconnecting…'}
        </p>
      )}
      <div id="content" className="content" tabIndex={-1}>
        <Suspense
          fallback={
            <p className="status" aria-busy="true">
              Loading…
            </p>
          }
        >
          {screen}
        </Suspense>
      </div>
    </div>
  );
}
