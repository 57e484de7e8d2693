/**
 * Files: the twin's own files in folders (upload by button or drag and drop, with progress;
 * download, rename, move, delete, share with contacts) and what contacts shared with this twin.
 */
import { useEffect, useRef, useState } from 'react';
import { del, get, patch, post, put, reason, type Upload, upload } from '../api.ts';
import { events } from '../events.ts';
import { follow } from '../router.ts';
import { useSession } from '../session.tsx';
import type { FileEntry, SharedItem } from '../types.ts';
import { ago, bytes, Dialog, Empty, Loaded, Status, useAction, useLoad } from '../ui/kit.tsx';

const join = (folder: string, name: string) => (folder === '/' ? `/${name}` : `${folder}/${name}`);

export default function Files(props: { path: string }) {
  const shared = props.path.startsWith('/files/shared');
  return (
    <main className="pane scroll files" aria-labelledby="files-title">
      <header className="pane-head">
        <h1 id="files-title">Files</h1>
        <nav aria-label="Files" className="tabs">
          <a href="/files" onClick={follow} aria-current={shared ? undefined : 'page'}>
            My files
          </a>
          <a href="/files/shared" onClick={follow} aria-current={shared ? 'page' : undefined}>
            Shared with me
          </a>
        </nav>
      </header>
      {shared ? <SharedWithMe /> : <MyFiles />}
    </main>
  );
}

interface Transfer {
  key: string;
  name: string;
  folder: string;
  file: File;
  progress: number;
  failed: string | null;
  up: Upload<unknown> | null;
}

function MyFiles() {
  const [folder, setFolder] = useState('/');
  const listing = useLoad(
    (signal) =>
      get<{ path: string; entries: FileEntry[] }>(`/api/files?path=${encodeURIComponent(folder)}`, signal),
    [folder],
  );
  const [transfers, setTransfers] = useState<Transfer[]>([]);
  const [dragging, setDragging] = useState(false);
  const [dialog, setDialog] = useState<
    { kind: 'folder' } | { kind: 'rename' | 'move' | 'delete' | 'share'; entry: FileEntry } | null
  >(null);
  const [q, setQ] = useState('');
  const [found, setFound] = useState<FileEntry[] | null>(null);
  const search = useAction(async (text: string) => {
    setFound(
      (await get<{ entries: FileEntry[] }>(`/api/files/search?q=${encodeURIComponent(text)}`)).entries,
    );
  });
  const reload = listing.reload;

  useEffect(
    () =>
      events.on((e) => {
        if (e.type === 'refresh') reload();
      }),
    [reload],
  );

  function start(t: Transfer) {
    const set = (change: Partial<Transfer>) =>
      setTransfers((ts) => ts.map((x) => (x.key === t.key ? { ...x, ...change } : x)));
    const up = upload<{ entry: FileEntry }>(
      `/api/files/content?path=${encodeURIComponent(join(t.folder, t.name))}`,
      t.file,
      (sent, total) => set({ progress: total ? sent / total : 0 }),
    );
    set({ up, failed: null, progress: 0 });
    up.done.then(
      () => {
        setTransfers((ts) => ts.filter((x) => x.key !== t.key));
        reload();
      },
      (e) => set({ failed: reason(e), up: null }),
    );
  }

  function add(files: Iterable<File>) {
    const fresh = [...files].map((file) => ({
      key: `${Date.now()}-${Math.random()}`,
      name: file.name,
      folder,
      file,
      progress: 0,
      failed: null,
      up: null,
    }));
    setTransfers((ts) => [...ts, ...fresh]);
    for (const t of fresh) start(t);
  }

  const crumbs = folder === '/' ? [] : folder.slice(1).split('/');
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: dropping files is a pointer shortcut for the Upload button
    <div
      className={dragging ? 'dropzone dragging' : 'dropzone'}
      onDragOver={(e) => {
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(e) => {
        e.preventDefault();
        setDragging(false);
        add(e.dataTransfer.files);
      }}
    >
      <div className="row toolbar">
        <nav aria-label="Folder" className="crumbs">
          <button type="button" className="link" onClick={() => setFolder('/')}>
            My files
          </button>
          {crumbs.map((c, i) => (
            <span key={crumbs.slice(0, i + 1).join('/')}>
              {' / '}
              <button
                type="button"
                className="link"
                aria-current={i === crumbs.length - 1 ? 'location' : undefined}
                onClick={() => setFolder(`/${crumbs.slice(0, i + 1).join('/')}`)}
              >
                {c}
              </button>
            </span>
          ))}
        </nav>
        <span className="grow" />
        <button type="button" className="outline small" onClick={() => setDialog({ kind: 'folder' })}>
          New folder
        </button>
        <label className="button small">
          Upload
          <input
            type="file"
            multiple
            aria-label="Upload files"
            onChange={(e) => {
              add(e.target.files ?? []);
              e.target.value = '';
            }}
          />
        </label>
      </div>
      <form
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          if (q.trim()) void search.run(q.trim());
          else setFound(null);
        }}
      >
        <input
          type="search"
          aria-label="Search files"
          placeholder="Search files by name"
          value={q}
          onChange={(e) => {
            setQ(e.target.value);
            if (!e.target.value) setFound(null);
          }}
        />
      </form>
      <Status s={search.s} pending="Searching…" retry={search.retry} />

      {transfers.length > 0 && (
        <ul className="list transfers" aria-label="Uploads">
          {transfers.map((t) => (
            <li key={t.key} className="item" data-testid="upload">
              <span className="grow">
                {t.name} <span className="muted">({bytes(t.file.size)})</span>
                {t.failed ? (
                  <span className="failed" role="alert">
                    {' '}
                    Upload failed: {t.failed}
                  </span>
                ) : (
                  <progress value={t.progress} max={1} aria-label={`Uploading ${t.name}`} />
                )}
              </span>
              {t.failed ? (
                <span className="row">
                  <button type="button" className="small" onClick={() => start(t)}>
                    Retry
                  </button>
                  <button
                    type="button"
                    className="small secondary outline"
                    onClick={() => setTransfers((ts) => ts.filter((x) => x.key !== t.key))}
                  >
                    Dismiss
                  </button>
                </span>
              ) : (
                <span className="row">
                  <span className="muted">{Math.round(t.progress * 100)}%</span>
                  <button type="button" className="small secondary outline" onClick={() => t.up?.abort()}>
                    Cancel
                  </button>
                </span>
              )}
            </li>
          ))}
        </ul>
      )}

      {found ? (
        <>
          <p>
            {found.length} found.{' '}
            <button
              type="button"
              className="link"
              onClick={() => {
                setFound(null);
                setQ('');
              }}
            >
              Back to the folder
            </button>
          </p>
          <Entries entries={found} open={setFolder} act={setDialog} showPath />
        </>
      ) : (
        <Loaded data={listing} what="your files">
          {(l) =>
            l.entries.length === 0 ? (
              <Empty title={folder === '/' ? 'No files yet' : 'This folder is empty'}>
                <p>
                  Drop files here, or press Upload. They are stored encrypted, spread over your storage
                  backends.
                </p>
              </Empty>
            ) : (
              <Entries entries={l.entries} open={(p) => setFolder(join(folder, p))} act={setDialog} />
            )
          }
        </Loaded>
      )}
      <EntryDialogs dialog={dialog} folder={folder} close={() => setDialog(null)} done={reload} />
    </div>
  );
}

type Act = (d: { kind: 'rename' | 'move' | 'delete' | 'share'; entry: FileEntry }) => void;

function Entries(props: {
  entries: FileEntry[];
  open: (name: string) => void;
  act: Act;
  showPath?: boolean;
}) {
  const { nameOf } = useSession();
  const sorted = [...props.entries].sort((a, b) =>
    a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === 'folder' ? -1 : 1,
  );
  return (
    <ul className="list entries" aria-label="Files and folders" data-testid="entries">
      {sorted.map((e) => (
        <li key={e.id} className="item" data-name={e.name}>
          <span aria-hidden="true" className="icon">
            {e.kind === 'folder' ? '📁' : e.mime.startsWith('image/') ? '🖼️' : '📄'}
          </span>
          <span className="grow">
            {e.kind === 'folder' ? (
              <button
                type="button"
                className="link"
                onClick={() => props.open(props.showPath && e.path ? e.path : e.name)}
              >
                {e.name}
              </button>
            ) : (
              <a href={`/api/files/${encodeURIComponent(e.id)}/content`} download={e.name}>
                {e.name}
              </a>
            )}
            <span className="muted">
              {props.showPath && e.path ? ` · ${e.path}` : ''}
              {e.kind === 'file' ? ` · ${bytes(e.size)}` : ''} · {ago(e.modified)}
              {e.shares.length > 0 && ` · shared with ${e.shares.map((s) => nameOf(s.twin)).join(', ')}`}
            </span>
          </span>
          <span className="row entry-actions">
            <button
              type="button"
              className="link"
              onClick={() => props.act({ kind: 'share', entry: e })}
              aria-label={`Share ${e.name}`}
            >
              Share
            </button>
            <button
              type="button"
              className="link"
              onClick={() => props.act({ kind: 'rename', entry: e })}
              aria-label={`Rename ${e.name}`}
            >
              Rename
            </button>
            <button
              type="button"
              className="link"
              onClick={() => props.act({ kind: 'move', entry: e })}
              aria-label={`Move ${e.name}`}
            >
              Move
            </button>
            <button
              type="button"
              className="link"
              onClick={() => props.act({ kind: 'delete', entry: e })}
              aria-label={`Delete ${e.name}`}
            >
              Delete
            </button>
          </span>
        </li>
      ))}
    </ul>
  );
}

function EntryDialogs(props: {
  dialog: { kind: 'folder' } | { kind: 'rename' | 'move' | 'delete' | 'share'; entry: FileEntry } | null;
  folder: string;
  close(): void;
  done(): void;
}) {
  const { dialog } = props;
  const [value, setValue] = useState('');
  const action = useAction(async (f: () => Promise<unknown>) => {
    await f();
    props.done();
    props.close();
  });
  const first = useRef<string | null>(null);
  const key = dialog ? `${dialog.kind}:${'entry' in dialog ? dialog.entry.id : ''}` : null;
  if (key !== first.current) {
    first.current = key;
    if (dialog?.kind === 'rename') setValue(dialog.entry.name);
    else if (dialog?.kind === 'move') setValue(props.folder);
    else setValue('');
    if (action.s.state !== 'idle') action.reset();
  }
  if (!dialog) return null;
  if (dialog.kind === 'share')
    return (
      <Dialog title={`Share ${dialog.entry.name}`} open onClose={props.close}>
        <ShareForm entry={dialog.entry} onChanged={props.done} />
      </Dialog>
    );
  const entry = 'entry' in dialog ? dialog.entry : null;
  const titles = {
    folder: 'New folder',
    rename: `Rename ${entry?.name}`,
    move: `Move ${entry?.name}`,
    delete: `Delete ${entry?.name}?`,
  };
  return (
    <Dialog title={titles[dialog.kind]} open onClose={props.close}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const v = value.trim();
          if (dialog.kind === 'folder')
            void action.run(() => post('/api/folders', { path: join(props.folder, v) }));
          else if (dialog.kind === 'rename')
            void action.run(() => patch(`/api/files/${entry!.id}`, { name: v }));
          else if (dialog.kind === 'move')
            void action.run(() => patch(`/api/files/${entry!.id}`, { parent: v || '/' }));
          else void action.run(() => del(`/api/files/${entry!.id}`));
        }}
      >
        {dialog.kind === 'delete' ? (
          <p>
            {entry?.kind === 'folder'
              ? 'The folder and everything in it are deleted.'
              : 'The file is deleted.'}{' '}
            This cannot be undone.
          </p>
        ) : (
          <label>
            {dialog.kind === 'move' ? 'Move to folder (e.g. /Photos/2026)' : 'Name'}
            <input
              value={value}
              onChange={(e) => setValue(e.target.value)}
              required={dialog.kind !== 'move'}
              maxLength={1024}
            />
          </label>
        )}
        <button type="submit" aria-busy={action.pending} disabled={action.pending}>
          {dialog.kind === 'delete'
            ? 'Delete'
            : dialog.kind === 'folder'
              ? 'Create'
              : dialog.kind === 'move'
                ? 'Move'
                : 'Rename'}
        </button>
        <Status s={action.s} pending="Saving…" retry={action.retry} />
      </form>
    </Dialog>
  );
}

function ShareForm(props: { entry: FileEntry; onChanged(): void }) {
  const { contacts, nameOf } = useSession();
  const [shares, setShares] = useState(props.entry.shares);
  const [twin, setTwin] = useState('');
  const [mode, setMode] = useState<'read' | 'write'>('read');
  const action = useAction(async (f: () => Promise<FileEntry | undefined>) => {
    const entry = await f();
    if (entry) setShares(entry.shares);
    props.onChanged();
  });
  if (contacts.length === 0) return <p>Add a contact first: files are shared with contacts.</p>;
  return (
    <>
      {shares.length === 0 ? (
        <p>Only you can see this {props.entry.kind}.</p>
      ) : (
        <ul className="list" aria-label="Shared with">
          {shares.map((s) => (
            <li key={s.twin} className="item">
              <span className="grow">
                {nameOf(s.twin)}{' '}
                <span className="muted">· can {s.mode === 'read' ? 'view' : 'view and add'}</span>
              </span>
              <button
                type="button"
                className="link"
                onClick={() =>
                  void action.run(async () => {
                    await del(`/api/files/${props.entry.id}/shares/${s.twin}`);
                    setShares((ss) => ss.filter((x) => x.twin !== s.twin));
                    return undefined;
                  })
                }
              >
                Stop sharing
              </button>
            </li>
          ))}
        </ul>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (twin)
            void action.run(
              async () =>
                (await put<{ entry: FileEntry }>(`/api/files/${props.entry.id}/shares/${twin}`, { mode }))
                  .entry,
            );
        }}
      >
        <fieldset role="group">
          <select aria-label="Contact" value={twin} onChange={(e) => setTwin(e.target.value)}>
            <option value="">Share with…</option>
            {contacts.map((c) => (
              <option key={c.twin} value={String(c.twin)}>
                {c.name}
              </option>
            ))}
          </select>
          <select
            aria-label="Access"
            value={mode}
            onChange={(e) => setMode(e.target.value as 'read' | 'write')}
          >
            <option value="read">can view</option>
            {props.entry.kind === 'folder' && <option value="write">can add files</option>}
          </select>
          <button type="submit" disabled={!twin || action.pending}>
            Share
          </button>
        </fieldset>
      </form>
      <Status s={action.s} pending="Sharing…" done="Shared." retry={action.retry} />
    </>
  );
}

function SharedWithMe() {
  const items = useLoad(() => get<{ items: SharedItem[] }>('/api/shared'), []);
  const [open, setOpen] = useState<{ item: SharedItem; path: string } | null>(null);
  const reload = items.reload;
  useEffect(
    () =>
      events.on((e) => {
        if (e.type === 'file.shared' || e.type === 'file.unshared' || e.type === 'refresh') reload();
      }),
    [reload],
  );
  if (open)
    return (
      <SharedFolder
        item={open.item}
        path={open.path}
        go={(path) => setOpen(path === null ? null : { item: open.item, path })}
      />
    );
  return (
    <Loaded data={items} what="files shared with you">
      {(l) =>
        l.items.length === 0 ? (
          <Empty title="Nothing shared with you yet">
            <p>When a contact shares a file or folder with you, it shows up here.</p>
          </Empty>
        ) : (
          <ul className="list" aria-label="Shared with me" data-testid="shared">
            {l.items.map((s) => (
              <li key={`${s.owner}/${s.id}`} className="item" data-name={s.name}>
                <span aria-hidden="true" className="icon">
                  {s.kind === 'folder' ? '📁' : '📄'}
                </span>
                <span className="grow">
                  {s.kind === 'folder' ? (
                    <button type="button" className="link" onClick={() => setOpen({ item: s, path: '/' })}>
                      {s.name}
                    </button>
                  ) : (
                    <a href={`/api/shared/${s.owner}/${encodeURIComponent(s.id)}/content`} download={s.name}>
                      {s.name}
                    </a>
                  )}
                  <span className="muted">
                    {' '}
                    · from {s.ownerName}
                    {s.kind === 'file' ? ` · ${bytes(s.size)}` : ''} · {ago(s.sharedAt)}
                  </span>
                </span>
              </li>
            ))}
          </ul>
        )
      }
    </Loaded>
  );
}

function SharedFolder(props: { item: SharedItem; path: string; go: (path: string | null) => void }) {
  const { item, path } = props;
  const listing = useLoad(
    () =>
      get<{ entries: FileEntry[] }>(
        `/api/shared/${item.owner}/${encodeURIComponent(item.id)}?path=${encodeURIComponent(path)}`,
      ),
    [item.owner, item.id, path],
  );
  return (
    <>
      <p>
        <button type="button" className="link" onClick={() => props.go(null)}>
          ← Shared with me
        </button>{' '}
        / {item.name}
        {path !== '/' && path}
      </p>
      <Loaded data={listing} what="this folder">
        {(l) =>
          l.entries.length === 0 ? (
            <Empty title="This folder is empty" />
          ) : (
            <ul className="list">
              {l.entries.map((e) => (
                <li key={e.id} className="item">
                  <span className="grow">
                    {e.kind === 'folder' ? (
                      <button type="button" className="link" onClick={() => props.go(join(path, e.name))}>
                        📁 {e.name}
                      </button>
                    ) : (
                      <a
                        href={`/api/shared/${item.owner}/${encodeURIComponent(e.id)}/content`}
                        download={e.name}
                      >
                        📄 {e.name}
                      </a>
                    )}
                    <span className="muted"> {e.kind === 'file' ? `· ${bytes(e.size)}` : ''}</span>
                  </span>
                </li>
              ))}
            </ul>
          )
        }
      </Loaded>
    </>
  );
}
