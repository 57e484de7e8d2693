/**
 * Contacts: find a twin by its name in the phonebook and ask it to be a contact; answer requests;
 * see who is online; chat, remove or block; unblock.
 */
import { useState } from 'react';
import { ApiError, del, get, post, reason } from '../api.ts';
import { follow, navigate } from '../router.ts';
import { useSession } from '../session.tsx';
import type { Contact } from '../types.ts';
import { Avatar, ago, Dialog, Empty, Status, useAction, useLoad } from '../ui/kit.tsx';

export function Contacts() {
  const { contacts, requests, reload, me } = useSession();
  const [q, setQ] = useState('');
  const [found, setFound] = useState<{ twin: number; name: string } | null>(null);
  const [note, setNote] = useState('');
  const [removing, setRemoving] = useState<Contact | null>(null);
  const blocked = useLoad(
    () => get<{ blocked: { twin: number; name: string; at: number }[] }>('/api/blocked'),
    [],
  );

  const lookup = useAction(async (name: string) => {
    setFound(null);
    try {
      setFound(await get<{ twin: number; name: string }>(`/api/lookup/${encodeURIComponent(name)}`));
    } catch (e) {
      if (e instanceof ApiError && e.code === 'not_found')
        throw new Error(`No twin named “${name}” in the phonebook. Names are exact: check the spelling.`);
      throw e;
    }
  });
  const ask = useAction(async (name: string) => {
    await post('/api/contacts', { name, message: note });
    setNote('');
    reload();
  });
  const answer = useAction(async (twin: number, action: 'accept' | 'decline' | 'ignore') => {
    await post(`/api/contacts/requests/${twin}/${action}`);
    reload();
  });
  const change = useAction(async (f: () => Promise<unknown>) => {
    await f();
    reload();
    blocked.reload();
  });

  const incoming = requests.filter((r) => r.direction === 'in');
  const outgoing = requests.filter((r) => r.direction === 'out');
  const already = found && (found.twin === me.twin || contacts.some((c) => c.twin === found.twin));
  const sent = found && outgoing.some((r) => r.twin === found.twin);

  return (
    <main className="pane scroll contacts" aria-labelledby="contacts-title">
      <h1 id="contacts-title">Contacts</h1>
      <section aria-labelledby="find-title">
        <h2 id="find-title">Find someone</h2>
        <form
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            if (q.trim()) void lookup.run(q.trim());
          }}
        >
          <fieldset role="group">
            <input
              type="search"
              aria-label="Twin name"
              placeholder="Their twin’s name, e.g. bob"
              value={q}
              onChange={(e) => setQ(e.target.value)}
              maxLength={64}
            />
            <button type="submit" aria-busy={lookup.pending}>
              Find
            </button>
          </fieldset>
        </form>
        <Status s={lookup.s} pending="Looking up the phonebook…" retry={lookup.retry} />
        {found && (
          <article className="item found" data-testid="found">
            <Avatar name={found.name} />
            <span className="grow">
              <strong>{found.name}</strong> <span className="muted">twin {found.twin}</span>
            </span>
            {found.twin === me.twin ? (
              <span className="muted">This is you.</span>
            ) : already ? (
              <a href={`/chats/${found.twin}`} onClick={follow} role="button" className="outline">
                Chat
              </a>
            ) : sent ? (
              <span className="muted">Request sent, waiting for an answer.</span>
            ) : (
              <form
                className="row"
                onSubmit={(e) => {
                  e.preventDefault();
                  void ask.run(found.name);
                }}
              >
                <input
                  aria-label="A note with your request (optional)"
                  placeholder="A note (optional)"
                  value={note}
                  maxLength={500}
                  onChange={(e) => setNote(e.target.value)}
                />
                <button type="submit" aria-busy={ask.pending} disabled={ask.pending}>
                  Send contact request
                </button>
              </form>
            )}
          </article>
        )}
        <Status s={ask.s} pending="Asking…" done="Request sent." retry={ask.retry} />
      </section>

      {incoming.length > 0 && (
        <section aria-labelledby="in-title">
          <h2 id="in-title">Requests for you</h2>
          <ul className="list" data-testid="requests-in">
            {incoming.map((r) => (
              <li key={r.twin} className="item">
                <Avatar name={r.name} />
                <span className="grow">
                  <strong>{r.name}</strong> <span className="muted">· {ago(r.at)}</span>
                  {r.message && <span className="preview">“{r.message}”</span>}
                </span>
                <span className="row">
                  <button
                    type="button"
                    onClick={() => void answer.run(r.twin, 'accept')}
                    aria-label={`Accept ${r.name}`}
                  >
                    Accept
                  </button>
                  <button
                    type="button"
                    className="secondary outline"
                    onClick={() => void answer.run(r.twin, 'decline')}
                    aria-label={`Decline ${r.name}`}
                  >
                    Decline
                  </button>
                </span>
              </li>
            ))}
          </ul>
          <Status s={answer.s} pending="Answering…" retry={answer.retry} />
        </section>
      )}

      {outgoing.length > 0 && (
        <section aria-labelledby="out-title">
          <h2 id="out-title">Waiting for an answer</h2>
          <ul className="list">
            {outgoing.map((r) => (
              <li key={r.twin} className="item">
                <Avatar name={r.name} />
                <span className="grow">
                  {r.name} <span className="muted">· asked {ago(r.at)}</span>
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}

      <section aria-labelledby="list-title">
        <h2 id="list-title">Your contacts</h2>
        {contacts.length === 0 ? (
          <Empty title="No contacts yet">
            <p>Find someone by their twin’s name above and send a request.</p>
          </Empty>
        ) : (
          <ul className="list" data-testid="contacts">
            {contacts.map((c) => (
              <li key={c.twin} className="item" data-twin={c.twin}>
                <Avatar name={c.name} online={c.online} />
                <span className="grow">
                  <strong>{c.name}</strong>
                  <span className="muted"> · {c.online ? 'online' : `last seen ${ago(c.lastSeen)}`}</span>
                </span>
                <span className="row">
                  <button type="button" className="small" onClick={() => navigate(`/chats/${c.twin}`)}>
                    Chat
                  </button>
                  <button type="button" className="small secondary outline" onClick={() => setRemoving(c)}>
                    Remove or block
                  </button>
                </span>
              </li>
            ))}
          </ul>
        )}
        <Status s={change.s} pending="Saving…" done="Done." retry={change.retry} />
      </section>

      {blocked.state === 'ready' && blocked.value.blocked.length > 0 && (
        <section aria-labelledby="blocked-title">
          <h2 id="blocked-title">Blocked</h2>
          <ul className="list">
            {blocked.value.blocked.map((b) => (
              <li key={b.twin} className="item">
                <span className="grow">{b.name}</span>
                <button
                  type="button"
                  className="small outline"
                  onClick={() => void change.run(() => del(`/api/blocked/${b.twin}`))}
                >
                  Unblock
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}

      <Dialog
        title={`Remove ${removing?.name ?? ''}?`}
        open={removing !== null}
        onClose={() => setRemoving(null)}
      >
        <p>
          Removing tells {removing?.name} you are no longer contacts. Blocking drops everything they send,
          without telling them.
        </p>
        <div className="row">
          <button
            type="button"
            className="secondary"
            onClick={() => {
              const c = removing!;
              setRemoving(null);
              void change.run(() => del(`/api/contacts/${c.twin}`));
            }}
          >
            Remove
          </button>
          <button
            type="button"
            onClick={() => {
              const c = removing!;
              setRemoving(null);
              void change.run(async () => {
                await post(`/api/blocked/${c.twin}`);
                await del(`/api/contacts/${c.twin}`).catch((e) => {
                  if (!(e instanceof ApiError)) throw new Error(reason(e));
                });
              });
            }}
          >
            Block
          </button>
        </div>
      </Dialog>
    </main>
  );
}
