/**
 * One conversation (a contact, or a group `g:<id>`): history newest at the bottom, older pages
 * loaded as the top scrolls into view, live messages, edits, deletes, reactions and receipts from
 * the event stream; replies, edits, deletes, reactions, typing and attachments from the composer.
 *
 * What became of each of our messages is always shown: "sending" while the twin has not stored it
 * or while the other twin has not acknowledged it, then "delivered", then "read"; a message the
 * twin refused shows why, with Retry.
 */
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { ApiError, del, get, patch, post, reason, type Upload, upload } from '../api.ts';
import { events } from '../events.ts';
import { follow } from '../router.ts';
import { useSession } from '../session.tsx';
import type { Attachment, FileEntry, Group, Message, MessageState } from '../types.ts';
import { Icon } from '../ui/icons.tsx';
import { Avatar, bytes, clock, Dialog, Empty, Status, useAction } from '../ui/kit.tsx';
import type { ChatList } from './chat-list.ts';
import { GroupPanel } from './GroupPanel.tsx';

export const PAGE = 50;
/** The folder of the twin's files that attachments are uploaded into before they are sent. */
const ATTACHMENTS = '/Chat attachments';
const REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🎉'];
/** Typing notices are sent at most this often … */
const TYPING_EVERY_MS = 3_000;
/** … and a received one is shown this long. */
const TYPING_SHOWN_MS = 4_000;
const RANK: Record<MessageState, number> = { sending: 0, received: 0, delivered: 1, read: 2 };

/** A message of ours the twin has not accepted yet (being sent, uploading, or refused). */
interface Draft {
  local: string;
  text: string;
  replyTo: string | null;
  file: File | null;
  progress: number | null;
  failed: string | null;
  upload?: Upload<unknown>;
}

export function Conversation(props: { chat: string; chats: ChatList }) {
  const { me, nameOf, contacts } = useSession();
  const { chat, chats } = props;
  const isGroup = chat.startsWith('g:');
  const group: Group | undefined = isGroup ? chats.groups.find((g) => g.id === chat.slice(2)) : undefined;
  const twin = isGroup ? null : Number(chat);
  const base = isGroup ? `/api/groups/${chat.slice(2)}` : `/api/chats/${twin}`;
  const contact = twin ? contacts.find((c) => c.twin === twin) : undefined;
  const title = isGroup ? (group?.name ?? 'Group') : nameOf(twin!);

  const [messages, setMessages] = useState<Message[]>([]);
  const [before, setBefore] = useState<number | null>(null);
  const [loading, setLoading] = useState<'first' | 'older' | null>('first');
  const [loadError, setLoadError] = useState<string | null>(null);
  const [drafts, setDrafts] = useState<Draft[]>([]);
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const [editing, setEditing] = useState<Message | null>(null);
  const [deleting, setDeleting] = useState<Message | null>(null);
  const [typing, setTyping] = useState<Map<number, number>>(new Map());
  const [members, setMembers] = useState(false);
  const [text, setText] = useState('');
  const [dragging, setDragging] = useState(false);
  const scroller = useRef<HTMLDivElement>(null);
  const composer = useRef<HTMLTextAreaElement>(null);
  const stick = useRef(true);
  const keepFromBottom = useRef<number | null>(null);
  const pendingReceipts = useRef(new Map<string, MessageState>());
  const lastTyping = useRef(0);

  const merge = useCallback((incoming: Message[]) => {
    setMessages((cur) => {
      const byId = new Map(cur.map((m) => [m.id, m]));
      for (const m of incoming) {
        const old = byId.get(m.id);
        const receipt = pendingReceipts.current.get(m.id);
        let state = m.state;
        if (old && RANK[old.state] > RANK[state]) state = old.state;
        if (receipt && RANK[receipt] > RANK[state]) state = receipt;
        byId.set(m.id, { ...old, ...m, state });
      }
      return [...byId.values()].sort((a, b) => (a.seq || Infinity) - (b.seq || Infinity) || a.sent - b.sent);
    });
  }, []);

  const loadLatest = useCallback(async () => {
    try {
      const page = await get<{ messages: Message[]; before: number | null }>(
        `${base}/messages?limit=${PAGE}`,
      );
      merge(page.messages);
      setBefore((b) => (b === null && loading === 'first' ? page.before : (b ?? page.before)));
      setLoadError(null);
    } catch (e) {
      setLoadError(reason(e));
    } finally {
      setLoading(null);
    }
  }, [base, merge, loading]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: the first page once per chat
  useEffect(() => {
    void loadLatest();
  }, [base]);

  const loadOlder = useCallback(async () => {
    if (before === null || loading) return;
    setLoading('older');
    const el = scroller.current;
    keepFromBottom.current = el ? el.scrollHeight - el.scrollTop : null;
    try {
      const page = await get<{ messages: Message[]; before: number | null }>(
        `${base}/messages?limit=${PAGE}&before=${before}`,
      );
      merge(page.messages);
      setBefore(page.before);
    } catch (e) {
      setLoadError(reason(e));
    } finally {
      setLoading(null);
    }
  }, [base, before, loading, merge]);

  // Older pages as the top of the history comes into view.
  const top = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = top.current;
    if (!el) return;
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) void loadOlder();
    });
    io.observe(el);
    return () => io.disconnect();
  }, [loadOlder]);

  // Scroll: stay at the bottom while there, keep the position when older pages come in above.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs after each change of the list
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (keepFromBottom.current !== null) {
      el.scrollTop = el.scrollHeight - keepFromBottom.current;
      keepFromBottom.current = null;
    } else if (stick.current) el.scrollTop = el.scrollHeight;
  }, [messages, drafts, typing]);

  // Read receipts: what arrives while the chat is open and the page visible is read.
  const unread = messages.some((m) => m.state === 'received');
  useEffect(() => {
    if (!unread) return;
    const mark = () => {
      if (document.visibilityState !== 'visible') return;
      setMessages((ms) => ms.map((m) => (m.state === 'received' ? { ...m, state: 'read' } : m)));
      chats.seen(chat);
      post(`${base}/read`).catch(() => {});
    };
    mark();
    document.addEventListener('visibilitychange', mark);
    return () => document.removeEventListener('visibilitychange', mark);
  }, [unread, base, chat, chats]);

  // The event stream.
  useEffect(
    () =>
      events.on((e) => {
        if (e.type === 'refresh') {
          void loadLatest();
          return;
        }
        if (!('chat' in e) || e.chat !== chat) return;
        if (e.type === 'message') {
          setTyping((t) => {
            if (!t.has(e.author)) return t;
            const n = new Map(t);
            n.delete(e.author);
            return n;
          });
          merge([
            {
              seq: 0,
              id: e.id,
              chat: e.chat,
              author: e.author,
              sent: Date.now(),
              text: e.text,
              replyTo: e.replyTo,
              edited: null,
              deleted: false,
              state: e.author === me.twin ? 'delivered' : 'received',
              reactions: {},
              attachments: e.attachments,
            },
          ]);
          // The stored copy carries the real seq and attachments.
          get<{ messages: Message[] }>(`${base}/messages?limit=5`).then(
            (p) => merge(p.messages),
            () => {},
          );
        } else if (e.type === 'receipt') {
          pendingReceipts.current.set(e.id, e.state);
          setMessages((ms) =>
            ms.map((m) => (m.id === e.id && RANK[e.state] > RANK[m.state] ? { ...m, state: e.state } : m)),
          );
        } else if (e.type === 'message.edited') {
          setMessages((ms) =>
            ms.map((m) => (m.id === e.id ? { ...m, text: e.text, edited: Date.now() } : m)),
          );
        } else if (e.type === 'message.deleted') {
          setMessages((ms) => ms.map((m) => (m.id === e.id ? { ...m, text: '', deleted: true } : m)));
        } else if (e.type === 'reaction') {
          setMessages((ms) =>
            ms.map((m) => {
              if (m.id !== e.id) return m;
              const who = new Set(m.reactions[e.emoji] ?? []);
              if (e.on) who.add(e.twin);
              else who.delete(e.twin);
              const reactions = { ...m.reactions };
              if (who.size) reactions[e.emoji] = [...who].sort((a, b) => a - b);
              else delete reactions[e.emoji];
              return { ...m, reactions };
            }),
          );
        } else if (e.type === 'typing' && e.twin !== me.twin) {
          setTyping((t) => new Map(t).set(e.twin, Date.now()));
        }
      }),
    [chat, base, me.twin, merge, loadLatest],
  );

  // Typing notices fade.
  useEffect(() => {
    if (typing.size === 0) return;
    const t = setTimeout(() => {
      const now = Date.now();
      setTyping((cur) => new Map([...cur].filter(([, at]) => now - at < TYPING_SHOWN_MS)));
    }, TYPING_SHOWN_MS);
    return () => clearTimeout(t);
  }, [typing]);

  const sendDraft = useCallback(
    async (d: Draft) => {
      const update = (change: Partial<Draft>) =>
        setDrafts((ds) => ds.map((x) => (x.local === d.local ? { ...x, ...change } : x)));
      update({ failed: null, progress: d.file ? 0 : null });
      try {
        let attachments: { file: string }[] | undefined;
        if (d.file) {
          const name = await freeName(ATTACHMENTS, d.file.name);
          const up = upload<{ entry: FileEntry }>(
            `/api/files/content?path=${encodeURIComponent(`${ATTACHMENTS}/${name}`)}`,
            d.file,
            (sent, total) => update({ progress: total ? sent / total : 0 }),
          );
          update({ upload: up });
          const { entry } = await up.done;
          attachments = [{ file: entry.id }];
        }
        const m = await post<Message>(`${base}/messages`, {
          text: d.text,
          replyTo: d.replyTo,
          ...(attachments ? { attachments } : {}),
        });
        stick.current = true;
        setDrafts((ds) => ds.filter((x) => x.local !== d.local));
        merge([m]);
      } catch (e) {
        update({ failed: reason(e), progress: null });
      }
    },
    [base, merge],
  );

  function submit() {
    const body = text.trim();
    if (editing) {
      if (!body) return;
      const m = editing;
      setEditing(null);
      setText('');
      setMessages((ms) => ms.map((x) => (x.id === m.id ? { ...x, text: body, edited: Date.now() } : x)));
      patch<Message>(`${base}/messages/${m.id}`, { text: body }).then(
        (saved) => merge([saved]),
        (e) => {
          setMessages((ms) => ms.map((x) => (x.id === m.id ? { ...x, text: m.text, edited: m.edited } : x)));
          setText(body);
          setEditing(m);
          setComposerError(`Not edited: ${reason(e)}`);
        },
      );
      return;
    }
    if (!body) return;
    send(body, null);
  }

  function send(body: string, file: File | null) {
    const d: Draft = {
      local: `local-${Math.random().toString(36).slice(2)}`,
      text: body,
      replyTo: replyTo?.id ?? null,
      file,
      progress: null,
      failed: null,
    };
    setText('');
    setReplyTo(null);
    stick.current = true;
    setDrafts((ds) => [...ds, d]);
    void sendDraft(d);
  }

  const [composerError, setComposerError] = useState<string | null>(null);

  function onType(value: string) {
    setText(value);
    setComposerError(null);
    if (!isGroup && value && Date.now() - lastTyping.current > TYPING_EVERY_MS) {
      lastTyping.current = Date.now();
      post(`${base}/typing`).catch(() => {});
    }
  }

  const react = useCallback(
    async (m: Message, emoji: string) => {
      const on = !(m.reactions[emoji] ?? []).includes(me.twin);
      try {
        merge([await post<Message>(`${base}/messages/${m.id}/reactions`, { emoji, on })]);
      } catch (e) {
        setComposerError(`Reaction not sent: ${reason(e)}`);
      }
    },
    [base, me.twin, merge],
  );

  const remove = useAction(async (m: Message) => {
    await del(`${base}/messages/${m.id}`);
    setMessages((ms) => ms.map((x) => (x.id === m.id ? { ...x, deleted: true, text: '' } : x)));
    setDeleting(null);
  });

  const byId = new Map(messages.map((m) => [m.id, m]));
  const typingNames = [...typing.keys()].map(nameOf);
  const canWrite = isGroup ? Boolean(group) : Boolean(contact);

  return (
    <section className="pane conversation" aria-label={`Conversation with ${title}`}>
      <header className="pane-head conv-head">
        <a href="/chats" onClick={follow} className="back" aria-label="Back to chats">
          ←
        </a>
        <Avatar name={title} online={contact?.online} />
        <div className="grow">
          <h2>{title}</h2>
          <small className="muted" aria-live="polite">
            {typingNames.length > 0 ? (
              <span data-testid="typing">{typingNames.join(', ')} typing…</span>
            ) : isGroup ? (
              `${group?.members.length ?? 0} members`
            ) : contact ? (
              contact.online ? (
                'online'
              ) : (
                'offline'
              )
            ) : (
              'not a contact'
            )}
          </small>
        </div>
        {isGroup && group && (
          <button type="button" className="outline small" onClick={() => setMembers(true)}>
            Members
          </button>
        )}
      </header>
      {/* biome-ignore lint/a11y/noStaticElementInteractions: dropping files is a pointer shortcut for the Attach button */}
      <div
        className={dragging ? 'messages dragging' : 'messages'}
        ref={scroller}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
        }}
        onDragOver={(e) => {
          if (!canWrite) return;
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          for (const f of e.dataTransfer.files) send('', f);
        }}
      >
        <div ref={top} className="top-sentinel">
          {loading === 'older' && (
            <p className="status" aria-busy="true">
              Loading older messages…
            </p>
          )}
          {before === null && !loading && messages.length > 0 && (
            <p className="muted center">Start of the conversation</p>
          )}
        </div>
        {loading === 'first' && (
          <p className="status" aria-busy="true">
            Loading messages…
          </p>
        )}
        {loadError && (
          <p className="status failed" role="alert">
            Could not load messages: {loadError}{' '}
            <button type="button" className="link" onClick={() => void loadLatest()}>
              Retry
            </button>
          </p>
        )}
        {!loading && !loadError && messages.length === 0 && drafts.length === 0 && (
          <Empty title="No messages yet">
            <p>{canWrite ? `Say hello to ${title}.` : 'Add this twin as a contact to write.'}</p>
          </Empty>
        )}
        <ol className="bubbles" aria-label="Messages" data-testid="messages">
          {messages.map((m) => (
            <Bubble
              key={m.id}
              m={m}
              mine={m.author === me.twin}
              author={isGroup ? nameOf(m.author) : null}
              quoted={m.replyTo ? (byId.get(m.replyTo) ?? null) : null}
              hasReply={m.replyTo !== null}
              base={base}
              me={me.twin}
              onReply={() => {
                setReplyTo(m);
                setEditing(null);
                composer.current?.focus();
              }}
              onEdit={() => {
                setEditing(m);
                setReplyTo(null);
                setText(m.text);
                composer.current?.focus();
              }}
              onDelete={() => setDeleting(m)}
              onReact={(emoji) => void react(m, emoji)}
            />
          ))}
          {drafts.map((d) => (
            <li key={d.local} className="bubble mine draft" data-state={d.failed ? 'failed' : 'sending'}>
              {d.file && (
                <p className="attachment">
                  📎 {d.file.name} ({bytes(d.file.size)})
                  {d.progress !== null && (
                    <progress value={d.progress} max={1} aria-label={`Uploading ${d.file.name}`} />
                  )}
                </p>
              )}
              {d.text && <p className="text">{d.text}</p>}
              <p className="meta">
                {d.failed ? (
                  <span role="alert" className="failed">
                    Not sent: {d.failed}{' '}
                    <button type="button" className="link" onClick={() => void sendDraft(d)}>
                      Retry
                    </button>{' '}
                    <button
                      type="button"
                      className="link"
                      onClick={() => setDrafts((ds) => ds.filter((x) => x.local !== d.local))}
                    >
                      Discard
                    </button>
                  </span>
                ) : (
                  <span className="state">
                    {d.progress !== null ? `uploading ${Math.round(d.progress * 100)}%` : 'sending'}
                  </span>
                )}
              </p>
            </li>
          ))}
        </ol>
      </div>
      {canWrite ? (
        <form
          className="composer"
          onSubmit={(e) => {
            e.preventDefault();
            submit();
          }}
        >
          {(replyTo || editing) && (
            <p className="context">
              {replyTo ? (
                <>
                  Replying to <strong>{nameOf(replyTo.author)}</strong>: <q>{snippet(replyTo.text)}</q>
                </>
              ) : (
                <>Editing your message</>
              )}{' '}
              <button
                type="button"
                className="link"
                onClick={() => {
                  setReplyTo(null);
                  if (editing) setText('');
                  setEditing(null);
                }}
              >
                Cancel
              </button>
            </p>
          )}
          {composerError && (
            <p className="status failed" role="alert">
              {composerError}
            </p>
          )}
          <div className="composer-row">
            <label className="attach outline" title="Attach a file">
              <Icon name="attach" />
              <span className="sr-only">Attach a file</span>
              <input
                type="file"
                multiple
                onChange={(e) => {
                  for (const f of e.target.files ?? []) send('', f);
                  e.target.value = '';
                }}
              />
            </label>
            <textarea
              ref={composer}
              rows={1}
              aria-label={`Message ${title}`}
              placeholder="Write a message"
              value={text}
              maxLength={16384}
              onChange={(e) => onType(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' && !e.shiftKey) {
                  e.preventDefault();
                  submit();
                } else if (e.key === 'Escape') {
                  setReplyTo(null);
                  if (editing) {
                    setEditing(null);
                    setText('');
                  }
                } else if (e.key === 'ArrowUp' && !text) {
                  const mine = [...messages].reverse().find((m) => m.author === me.twin && !m.deleted);
                  if (mine) {
                    e.preventDefault();
                    setEditing(mine);
                    setText(mine.text);
                  }
                }
              }}
            />
            <button type="submit" disabled={!text.trim()}>
              {editing ? 'Save' : 'Send'}
            </button>
          </div>
        </form>
      ) : (
        <p className="composer muted">
          {isGroup
            ? 'You are not a member of this group.'
            : 'This twin is not your contact: you cannot write to it.'}
        </p>
      )}
      <Dialog title="Delete this message?" open={deleting !== null} onClose={() => setDeleting(null)}>
        <p>It is deleted for everyone in this chat.</p>
        {deleting && <blockquote>{snippet(deleting.text)}</blockquote>}
        <div className="row">
          <button type="button" className="secondary" onClick={() => setDeleting(null)}>
            Keep
          </button>
          <button
            type="button"
            onClick={() => deleting && void remove.run(deleting)}
            aria-busy={remove.pending}
          >
            Delete
          </button>
        </div>
        <Status s={remove.s} pending="Deleting…" retry={remove.retry} />
      </Dialog>
      {isGroup && group && (
        <Dialog title={`${group.name}: members`} open={members} onClose={() => setMembers(false)}>
          <GroupPanel group={group} onChanged={chats.reload} onLeft={() => setMembers(false)} />
        </Dialog>
      )}
    </section>
  );
}

const snippet = (s: string) => (s.length > 80 ? `${s.slice(0, 80)}…` : s);

const STATE_LABEL: Record<MessageState, string> = {
  sending: 'sending',
  delivered: 'delivered',
  read: 'read',
  received: '',
};

function Bubble(props: {
  m: Message;
  mine: boolean;
  author: string | null;
  quoted: Message | null;
  hasReply: boolean;
  base: string;
  me: number;
  onReply(): void;
  onEdit(): void;
  onDelete(): void;
  onReact(emoji: string): void;
}) {
  const { m, mine } = props;
  const [menu, setMenu] = useState(false);
  const reactions = Object.entries(m.reactions);
  return (
    <li className={mine ? 'bubble mine' : 'bubble'} data-id={m.id} data-state={m.state} data-testid="message">
      {props.author && !mine && <p className="author">{props.author}</p>}
      {props.hasReply && (
        <p className="quote" data-testid="quote">
          ↪{' '}
          {props.quoted
            ? props.quoted.deleted
              ? 'deleted message'
              : snippet(props.quoted.text)
            : 'an earlier message'}
        </p>
      )}
      {m.deleted ? (
        <p className="text muted">
          <em>Message deleted</em>
        </p>
      ) : (
        <>
          {m.attachments?.map((a) => (
            <AttachmentView key={a.file} a={a} base={props.base} owner={m.author} />
          ))}
          {m.text && <p className="text">{m.text}</p>}
        </>
      )}
      {reactions.length > 0 && (
        <ul className="reactions" aria-label="Reactions">
          {reactions.map(([emoji, who]) => (
            <li key={emoji}>
              <button
                type="button"
                className={who.includes(props.me) ? 'chip mine' : 'chip'}
                aria-pressed={who.includes(props.me)}
                aria-label={`${emoji} ${who.length}${who.includes(props.me) ? ', including you' : ''}`}
                onClick={() => props.onReact(emoji)}
              >
                {emoji} {who.length}
              </button>
            </li>
          ))}
        </ul>
      )}
      <p className="meta">
        <time dateTime={new Date(m.sent).toISOString()}>{clock(m.sent)}</time>
        {m.edited && !m.deleted && <span> · edited</span>}
        {mine && (
          <span className={`state ${m.state}`} data-testid="state">
            {' '}
            · {m.state === 'read' ? '✓✓ ' : m.state === 'delivered' ? '✓ ' : '⏱ '}
            {STATE_LABEL[m.state]}
          </span>
        )}
      </p>
      {!m.deleted && (
        <div className="actions">
          <button
            type="button"
            className="link"
            aria-expanded={menu}
            aria-label="Message actions"
            onClick={() => setMenu((x) => !x)}
          >
            ⋯
          </button>
          {menu && (
            // biome-ignore lint/a11y/noStaticElementInteractions: Escape closes the menu
            <div
              className="menu"
              onKeyDown={(e) => {
                if (e.key === 'Escape') setMenu(false);
              }}
            >
              <div className="row" role="group" aria-label="React">
                {REACTIONS.map((r) => (
                  <button
                    key={r}
                    type="button"
                    className="link emoji"
                    aria-label={`React ${r}`}
                    onClick={() => {
                      setMenu(false);
                      props.onReact(r);
                    }}
                  >
                    {r}
                  </button>
                ))}
              </div>
              <button
                type="button"
                className="link"
                onClick={() => {
                  setMenu(false);
                  props.onReply();
                }}
              >
                Reply
              </button>
              {mine && (
                <>
                  <button
                    type="button"
                    className="link"
                    onClick={() => {
                      setMenu(false);
                      props.onEdit();
                    }}
                  >
                    Edit
                  </button>
                  <button
                    type="button"
                    className="link"
                    onClick={() => {
                      setMenu(false);
                      props.onDelete();
                    }}
                  >
                    Delete
                  </button>
                </>
              )}
            </div>
          )}
        </div>
      )}
    </li>
  );
}

/** An attachment: a preview for images, a download link for everything. */
function AttachmentView(props: { a: Attachment; base: string; owner: number }) {
  const { a } = props;
  // The twin fetches another member's file from its owner's twin; our own it reads itself.
  const content = props.base.startsWith('/api/groups/')
    ? `${props.base}/attachments/${props.owner}/${encodeURIComponent(a.file)}`
    : `${props.base}/attachments/${encodeURIComponent(a.file)}`;
  const image = /^image\/(png|jpeg|gif|webp|avif)$/.test(a.mime);
  const [broken, setBroken] = useState(false);
  return (
    <div className="attachment">
      {image && !broken && (
        <a href={content} target="_blank" rel="noreferrer">
          <img
            src={a.thumbnail ? `${content}/thumbnail` : content}
            alt={`Preview of ${a.name}`}
            loading="lazy"
            onError={(e) => {
              const img = e.currentTarget;
              if (img.src.endsWith('/thumbnail')) img.src = content;
              else setBroken(true);
            }}
          />
        </a>
      )}
      <a href={content} download={a.name}>
        {a.name}
      </a>{' '}
      <span className="muted">({bytes(a.size)})</span>
      {broken && <span className="muted"> · preview unavailable (the sender’s twin may be offline)</span>}
    </div>
  );
}

/**
 * A name not yet taken in `folder` ("photo.png", else "photo (2).png", ...): uploading over an
 * existing name would replace the file an earlier message carries.
 */
export async function freeName(folder: string, name: string): Promise<string> {
  let taken: Set<string>;
  try {
    const l = await get<{ entries: FileEntry[] }>(`/api/files?path=${encodeURIComponent(folder)}`);
    taken = new Set(l.entries.map((e) => e.name));
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return name; // no such folder yet
    throw e;
  }
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  let candidate = name;
  for (let n = 2; taken.has(candidate); n++) candidate = `${stem} (${n})${ext}`;
  return candidate;
}
