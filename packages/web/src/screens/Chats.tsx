/**
 * Chats: the list (unread counts, last message, search over every message) beside the open
 * conversation on a desktop; one or the other on a phone. New chats start from a contact; new
 * groups from a few contacts.
 */
import { useState } from 'react';
import { get, post } from '../api.ts';
import { follow, navigate } from '../router.ts';
import { useSession } from '../session.tsx';
import type { Message } from '../types.ts';
import { Avatar, clock, Dialog, Empty, Status, useAction } from '../ui/kit.tsx';
import { Conversation } from './Conversation.tsx';
import type { ChatList } from './chat-list.ts';

export function Chats(props: { path: string; chats: ChatList }) {
  const open = decodeURIComponent(props.path.split('/')[2] ?? '');
  const { chats } = props;
  return (
    <div className={open ? 'split has-open' : 'split'}>
      <ChatListPane chats={chats} open={open} />
      {open ? (
        <Conversation key={open} chat={open} chats={chats} />
      ) : (
        <section className="pane conversation-empty" aria-label="Conversation">
          <Empty title="No chat open">
            <p>Pick a chat on the left, or start a new one with a contact.</p>
          </Empty>
        </section>
      )}
    </div>
  );
}

function ChatListPane(props: { chats: ChatList; open: string }) {
  const { me, contacts, nameOf } = useSession();
  const { chats } = props;
  const [q, setQ] = useState('');
  const [results, setResults] = useState<Message[] | null>(null);
  const [dialog, setDialog] = useState<'chat' | 'group' | null>(null);
  const search = useAction(async (text: string) => {
    const r = await get<{ messages: Message[] }>(`/api/search?q=${encodeURIComponent(text)}&limit=50`);
    setResults(r.messages);
  });
  const groupsById = new Map(chats.groups.map((g) => [g.id, g]));
  // Groups with no message yet are listed too (after the chats).
  const listed = new Set(chats.list.map((c) => c.chat));
  const rows = [
    ...chats.list,
    ...chats.groups
      .filter((g) => !listed.has(`g:${g.id}`))
      .map((g) => ({ chat: `g:${g.id}`, twin: null, name: g.name, unread: 0, last: null })),
  ];
  const title = (chat: string, name: string | null) =>
    name ?? (chat.startsWith('g:') ? (groupsById.get(chat.slice(2))?.name ?? 'Group') : nameOf(Number(chat)));

  return (
    <section className="pane chat-list" aria-label="Chats">
      <header className="pane-head">
        <h1>Chats</h1>
        <div className="row">
          <button type="button" className="outline small" onClick={() => setDialog('chat')}>
            New chat
          </button>
          <button type="button" className="outline small" onClick={() => setDialog('group')}>
            New group
          </button>
        </div>
      </header>
      <form
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          if (q.trim()) void search.run(q.trim());
        }}
      >
        <input
          type="search"
          placeholder="Search messages"
          aria-label="Search messages"
          value={q}
          onChange={(e) => {
            setQ(e.target.value);
            if (!e.target.value) {
              setResults(null);
              search.reset();
            }
          }}
        />
      </form>
      <Status s={search.s} pending="Searching…" retry={search.retry} />
      {results ? (
        <div>
          <p>
            {results.length} message{results.length === 1 ? '' : 's'} found.{' '}
            <button
              type="button"
              className="link"
              onClick={() => {
                setResults(null);
                setQ('');
              }}
            >
              Back to chats
            </button>
          </p>
          <ul className="list" aria-label="Search results">
            {results.map((m) => (
              <li key={m.id}>
                <a href={`/chats/${encodeURIComponent(m.chat)}`} onClick={follow} className="item">
                  <span className="grow">
                    <strong>{title(m.chat, null)}</strong>
                    <span className="muted">
                      {' '}
                      · {nameOf(m.author)} · {clock(m.sent)}
                    </span>
                    <span className="preview">{m.text}</span>
                  </span>
                </a>
              </li>
            ))}
          </ul>
        </div>
      ) : !chats.loaded ? (
        <p className="status" aria-busy="true">
          Loading chats…
        </p>
      ) : chats.error && rows.length === 0 ? (
        <p className="status failed" role="alert">
          Could not load your chats: {chats.error}{' '}
          <button type="button" className="link" onClick={chats.reload}>
            Retry
          </button>
        </p>
      ) : rows.length === 0 ? (
        <Empty title="No chats yet">
          <p>
            {contacts.length === 0 ? (
              <>
                Add a contact first:{' '}
                <a href="/contacts" onClick={follow}>
                  find someone by name
                </a>
                .
              </>
            ) : (
              'Press “New chat” and pick a contact.'
            )}
          </p>
        </Empty>
      ) : (
        <ul className="list" aria-label="Chat list" data-testid="chat-list">
          {rows.map((c) => {
            const name = title(c.chat, c.name);
            const last = c.last;
            const online = c.twin ? contacts.find((x) => x.twin === c.twin)?.online : undefined;
            const preview = last
              ? `${last.author === me.twin ? 'You: ' : c.twin ? '' : `${nameOf(last.author)}: `}${last.deleted ? 'message deleted' : last.text}`
              : 'No messages yet';
            return (
              <li key={c.chat}>
                <a
                  href={`/chats/${encodeURIComponent(c.chat)}`}
                  onClick={follow}
                  className="item"
                  aria-current={props.open === c.chat ? 'true' : undefined}
                  data-chat={c.chat}
                >
                  <Avatar name={name} online={online} />
                  <span className="grow">
                    <span className="line">
                      <strong>{name}</strong>
                      {last && <time className="muted">{clock(last.sent)}</time>}
                    </span>
                    <span className="line">
                      <span className="preview">{preview}</span>
                      {c.unread > 0 && (
                        <span className="badge" data-testid="unread">
                          {c.unread}
                          <span className="sr-only"> unread</span>
                        </span>
                      )}
                    </span>
                  </span>
                </a>
              </li>
            );
          })}
        </ul>
      )}
      <Dialog title="New chat" open={dialog === 'chat'} onClose={() => setDialog(null)}>
        {contacts.length === 0 ? (
          <p>
            You have no contacts yet.{' '}
            <a href="/contacts" onClick={follow}>
              Find someone by name
            </a>
            .
          </p>
        ) : (
          <ul className="list">
            {contacts.map((c) => (
              <li key={c.twin}>
                <button
                  type="button"
                  className="item"
                  onClick={() => {
                    setDialog(null);
                    navigate(`/chats/${c.twin}`);
                  }}
                >
                  <Avatar name={c.name} online={c.online} />
                  <span className="grow">{c.name}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </Dialog>
      <Dialog title="New group" open={dialog === 'group'} onClose={() => setDialog(null)}>
        <NewGroup
          onCreated={(id) => {
            setDialog(null);
            chats.reload();
            navigate(`/chats/${encodeURIComponent(`g:${id}`)}`);
          }}
        />
      </Dialog>
    </section>
  );
}

function NewGroup(props: { onCreated: (id: string) => void }) {
  const { contacts } = useSession();
  const [name, setName] = useState('');
  const [members, setMembers] = useState<Set<number>>(new Set());
  const create = useAction(async () => {
    const g = await post<{ id: string }>('/api/groups', {
      name: name.trim(),
      members: [...members].map(String),
    });
    props.onCreated(g.id);
  });
  if (contacts.length === 0) return <p>Add contacts first: a group is made of your contacts.</p>;
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void create.run();
      }}
    >
      <label>
        Group name
        <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} />
      </label>
      <fieldset>
        <legend>Members</legend>
        {contacts.map((c) => (
          <label key={c.twin}>
            <input
              type="checkbox"
              checked={members.has(c.twin)}
              onChange={(e) => {
                const next = new Set(members);
                if (e.target.checked) next.add(c.twin);
                else next.delete(c.twin);
                setMembers(next);
              }}
            />
            {c.name}
          </label>
        ))}
      </fieldset>
      <button
        type="submit"
        disabled={create.pending || !name.trim() || members.size === 0}
        aria-busy={create.pending}
      >
        Create group
      </button>
      <Status s={create.s} pending="Creating the group…" retry={create.retry} />
    </form>
  );
}
