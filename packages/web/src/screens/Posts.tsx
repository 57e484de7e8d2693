/**
 * Posts: a feed of this twin's and its contacts' posts (newest first, more on demand), a composer
 * with images (uploaded to the twin's files first, with progress), likes and comments.
 */
import { useCallback, useEffect, useState } from 'react';
import { del, get, post, put, reason, upload } from '../api.ts';
import { events } from '../events.ts';
import { useSession } from '../session.tsx';
import type { Comment, FileEntry, Post } from '../types.ts';
import { Avatar, ago, Empty, Status, useAction } from '../ui/kit.tsx';
import { freeName } from './Conversation.tsx';

export default function Posts() {
  const [posts, setPosts] = useState<Post[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [state, setState] = useState<{ loading: boolean; error: string | null; unavailable: boolean }>({
    loading: true,
    error: null,
    unavailable: false,
  });

  const load = useCallback(async (cursor: string | null) => {
    setState((s) => ({ ...s, loading: true, error: null }));
    try {
      const r = await get<{ posts: Post[]; next?: string }>(
        `/api/posts/feed?limit=20${cursor ? `&before=${encodeURIComponent(cursor)}` : ''}`,
      );
      // The first page replaces the feed (it is reloaded on every post event); later pages append.
      setPosts((cur) =>
        cursor
          ? [...cur, ...r.posts.filter((p) => !cur.some((c) => c.id === p.id && c.author === p.author))]
          : r.posts,
      );
      setNext(r.next ?? null);
      setState({ loading: false, error: null, unavailable: false });
    } catch (e) {
      setState({
        loading: false,
        error: reason(e),
        unavailable: (e as { unavailable?: boolean }).unavailable === true,
      });
    }
  }, []);

  useEffect(() => {
    void load(null);
    return events.on((e) => {
      if (e.type.startsWith('post.') || e.type === 'refresh') void load(null);
    });
  }, [load]);

  const replace = (p: Post) =>
    setPosts((ps) => ps.map((x) => (x.id === p.id && x.author === p.author ? p : x)));

  return (
    <main className="pane scroll posts" aria-labelledby="posts-title">
      <h1 id="posts-title">Posts</h1>
      {state.unavailable ? (
        <Empty title="Your twin does not offer posts yet">
          <p>This twin's version has no posts. Update the twin and reload this page.</p>
        </Empty>
      ) : (
        <>
          <Compose onPosted={(p) => setPosts((ps) => [p, ...ps])} />
          {state.error && (
            <p className="status failed" role="alert">
              Could not load the feed: {state.error}{' '}
              <button type="button" className="link" onClick={() => void load(null)}>
                Retry
              </button>
            </p>
          )}
          {!state.loading && !state.error && posts.length === 0 && (
            <Empty title="No posts yet">
              <p>Write the first one above. Your contacts see your posts, and you see theirs here.</p>
            </Empty>
          )}
          <ol className="feed" aria-label="Feed" data-testid="feed">
            {posts.map((p) => (
              <PostCard
                key={`${p.author}/${p.id}`}
                post={p}
                onChange={replace}
                onDeleted={() => setPosts((ps) => ps.filter((x) => x !== p))}
              />
            ))}
          </ol>
          {state.loading && (
            <p className="status" aria-busy="true">
              Loading posts…
            </p>
          )}
          {next && !state.loading && (
            <button type="button" className="outline" onClick={() => void load(next)}>
              Show older posts
            </button>
          )}
        </>
      )}
    </main>
  );
}

function Compose(props: { onPosted(p: Post): void }) {
  const [text, setText] = useState('');
  const [images, setImages] = useState<File[]>([]);
  const [progress, setProgress] = useState<number | null>(null);
  const publish = useAction(async () => {
    const ids: { file: string }[] = [];
    for (const [i, f] of images.entries()) {
      const up = upload<{ entry: FileEntry }>(
        `/api/files/content?path=${encodeURIComponent(`/Posts/${await freeName('/Posts', f.name)}`)}`,
        f,
        (sent, total) => setProgress((i + (total ? sent / total : 0)) / images.length),
      );
      ids.push({ file: (await up.done).entry.id });
    }
    setProgress(null);
    const r = await post<{ post: Post } | Post>('/api/posts', {
      text,
      ...(ids.length ? { images: ids } : {}),
    });
    props.onPosted('post' in r ? r.post : r);
    setText('');
    setImages([]);
  });
  return (
    <form
      className="compose"
      onSubmit={(e) => {
        e.preventDefault();
        void publish.run().finally(() => setProgress(null));
      }}
    >
      <label>
        New post
        <textarea
          value={text}
          onChange={(e) => setText(e.target.value)}
          rows={3}
          placeholder="Share something with your contacts"
          maxLength={16384}
        />
      </label>
      <div className="row">
        <label className="outline attach-label">
          Add images
          <input
            type="file"
            accept="image/*"
            multiple
            onChange={(e) => {
              setImages([...images, ...(e.target.files ?? [])]);
              e.target.value = '';
            }}
          />
        </label>
        {images.map((f) => (
          <span key={`${f.name}-${f.size}-${f.lastModified}`} className="chip">
            🖼️ {f.name}{' '}
            <button
              type="button"
              className="link"
              aria-label={`Remove ${f.name}`}
              onClick={() => setImages(images.filter((x) => x !== f))}
            >
              ✕
            </button>
          </span>
        ))}
        <span className="grow" />
        <button
          type="submit"
          disabled={publish.pending || (!text.trim() && images.length === 0)}
          aria-busy={publish.pending}
        >
          Post
        </button>
      </div>
      {progress !== null && <progress value={progress} max={1} aria-label="Uploading images" />}
      <Status s={publish.s} pending="Posting…" done="Posted." retry={publish.retry} />
    </form>
  );
}

function PostCard(props: { post: Post; onChange(p: Post): void; onDeleted(): void }) {
  const { me } = useSession();
  const p = props.post;
  const base = `/api/posts/${p.author}/${encodeURIComponent(p.id)}`;
  const [comment, setComment] = useState('');
  const like = useAction(async () => {
    const mine = !p.likes.mine;
    props.onChange({ ...p, likes: { count: p.likes.count + (mine ? 1 : -1), mine } });
    try {
      if (mine) await put(`${base}/like`);
      else await del(`${base}/like`);
    } catch (e) {
      props.onChange(p);
      throw e;
    }
  });
  const send = useAction(async () => {
    const r = await post<{ comment: Comment } | Comment>(`${base}/comments`, { text: comment.trim() });
    const c = 'comment' in r ? r.comment : r;
    props.onChange({ ...p, comments: [...p.comments, c] });
    setComment('');
  });
  const remove = useAction(async () => {
    await del(`/api/posts/${encodeURIComponent(p.id)}`);
    props.onDeleted();
  });
  return (
    <li>
      <article className="post" data-testid="post" aria-label={`Post by ${p.authorName}`}>
        <header className="item">
          <Avatar name={p.authorName} size={36} />
          <span className="grow">
            <strong>{p.author === me.twin ? 'You' : p.authorName}</strong>
            <span className="muted"> · {ago(p.created)}</span>
          </span>
          {p.author === me.twin && (
            <button
              type="button"
              className="link"
              onClick={() => void remove.run()}
              aria-label="Delete this post"
            >
              Delete
            </button>
          )}
        </header>
        {p.text && <p className="text">{p.text}</p>}
        {p.images.length > 0 && (
          <div className="images">
            {p.images.map((img) => (
              <img
                key={img.file}
                src={`${base}/images/${encodeURIComponent(img.file)}`}
                alt={img.name}
                loading="lazy"
              />
            ))}
          </div>
        )}
        <div className="row">
          <button
            type="button"
            className={p.likes.mine ? 'small' : 'small outline'}
            aria-pressed={p.likes.mine}
            onClick={() => void like.run()}
            data-testid="like"
          >
            ♥ {p.likes.mine ? 'Liked' : 'Like'} · {p.likes.count}
          </button>
          <span className="muted">
            {p.comments.length} comment{p.comments.length === 1 ? '' : 's'}
          </span>
        </div>
        <Status s={like.s} retry={like.retry} />
        <Status s={remove.s} pending="Deleting…" retry={remove.retry} />
        {p.comments.length > 0 && (
          <ul className="comments" aria-label="Comments">
            {p.comments.map((c) => (
              <li key={c.id}>
                <strong>{c.author === me.twin ? 'You' : c.authorName}</strong> {c.text}{' '}
                <span className="muted">· {ago(c.created)}</span>
              </li>
            ))}
          </ul>
        )}
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (comment.trim()) void send.run();
          }}
        >
          <fieldset role="group">
            <input
              aria-label="Write a comment"
              placeholder="Write a comment"
              value={comment}
              maxLength={4096}
              onChange={(e) => setComment(e.target.value)}
            />
            <button type="submit" className="outline" disabled={!comment.trim() || send.pending}>
              Comment
            </button>
          </fieldset>
        </form>
        <Status s={send.s} pending="Commenting…" retry={send.retry} />
      </article>
    </li>
  );
}
