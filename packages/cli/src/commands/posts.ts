/** `twin posts ...`: posts and the feed, through the running twin's API. */
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { callApi, type FileEntry, streamApi } from '@twin/twin/client';
import { Command } from 'commander';
import { CliError } from '../errors.ts';
import { integer, type JsonOptions, print } from '../options.ts';
import { sub } from './contacts.ts';

type O = JsonOptions & { home: string };

interface Post {
  id: string;
  author: number;
  authorName: string;
  text: string;
  images: { file: string; name: string; mime: string }[];
  created: number;
  likes: { count: number; mine: boolean };
  comments: {
    id: string;
    author: number;
    authorName: string;
    text: string;
    created: number;
    replyTo?: string;
  }[];
}

const q = (s: string) => encodeURIComponent(s);

function show(p: Post): string {
  const lines = [
    `${new Date(p.created).toISOString()} ${p.authorName}:${p.id}  ♥ ${p.likes.count}${p.likes.mine ? ' (you)' : ''}`,
    `  ${p.text}`,
    ...p.images.map((i) => `  [image ${i.name} ${i.file}]`),
    ...p.comments.map((c) => `    ${c.replyTo ? '  ↳ ' : ''}${c.authorName} (${c.id}): ${c.text}`),
  ];
  return lines.join('\n');
}

/** `AUTHOR:ID` (AUTHOR a contact's name or id, or `me`). */
function postRef(ref: string): { author: string; id: string } {
  const m = /^([^:]+):([0-9a-f]{24})$/.exec(ref);
  if (!m) throw new CliError('bad_request', `expected AUTHOR:POST-ID (from twin posts feed), not "${ref}"`);
  return { author: m[1]!, id: m[2]! };
}

export function postsCommand(): Command {
  const cmd = new Command('posts').description('posts and the feed of contacts (talks to the running twin)');
  cmd.addCommand(
    sub('create', 'post a text, with images uploaded from local files')
      .argument('<text>')
      .option('--image <file...>', 'local image files to attach (uploaded to /Posts)')
      .action(async (text: string, o: O & { image?: string[] }) => {
        const images: { file: string }[] = [];
        for (const file of o.image ?? []) {
          try {
            statSync(file);
          } catch {
            throw new CliError('not_found', `cannot read ${file}`);
          }
          const res = await streamApi(
            o.home,
            'PUT',
            `/api/files/content?path=${q(`/Posts/${basename(file)}`)}`,
            {
              body: createReadStream(file),
              headers: { 'content-type': 'application/octet-stream' },
            },
          );
          images.push({ file: ((await res.json()) as { entry: FileEntry }).entry.id });
        }
        const r = await callApi<{ post: Post }>(o.home, 'POST', '/api/posts', { text, images });
        print(o, r, () => show(r.post));
      }),
  );
  cmd.addCommand(
    sub('feed', "this twin's posts and its contacts', newest first")
      .option('--limit <n>', 'posts per page', integer(1, 100), 20)
      .option('--before <cursor>', 'the page after this cursor (from the previous page)', integer(1))
      .option('--cached', "don't ask the contacts' twins: what was pulled last")
      .action(async (o: O & { limit: number; before?: number; cached?: boolean }) => {
        const p = new URLSearchParams({
          limit: String(o.limit),
          ...(o.before ? { before: String(o.before) } : {}),
          ...(o.cached ? { cached: '1' } : {}),
        });
        const r = await callApi<{ posts: Post[]; next?: number; stale: number[] }>(
          o.home,
          'GET',
          `/api/posts/feed?${p}`,
        );
        print(
          o,
          r,
          () =>
            [
              ...r.posts.map(show),
              ...(r.stale.length ? [`(cached for twins not answering: ${r.stale.join(', ')})`] : []),
              ...(r.next ? [`(more: --before ${r.next})`] : []),
            ].join('\n') || '(no posts)',
        );
      }),
  );
  cmd.addCommand(
    sub('like', 'like a post (AUTHOR:ID)')
      .argument('<post>')
      .option('--undo', 'take the like back')
      .action(async (ref: string, o: O & { undo?: boolean }) => {
        const { author, id } = postRef(ref);
        const r = await callApi<{ likes: Post['likes'] }>(
          o.home,
          o.undo ? 'DELETE' : 'PUT',
          `/api/posts/${q(author)}/${id}/like`,
        );
        print(o, r, () => `♥ ${r.likes.count}`);
      }),
  );
  cmd.addCommand(
    sub('comment', 'comment on a post (AUTHOR:ID), or reply to one of its comments')
      .argument('<post>')
      .argument('<text>')
      .option('--reply-to <comment>', 'the comment replied to')
      .action(async (ref: string, text: string, o: O & { replyTo?: string }) => {
        const { author, id } = postRef(ref);
        const r = await callApi<{ comment: Post['comments'][number] }>(
          o.home,
          'POST',
          `/api/posts/${q(author)}/${id}/comments`,
          { text, replyTo: o.replyTo ?? null },
        );
        print(o, r, () => `comment ${r.comment.id}`);
      }),
  );
  cmd.addCommand(
    sub('delete', "delete one of this twin's posts")
      .argument('<id>')
      .action(async (id: string, o: O) => {
        await streamApi(o.home, 'DELETE', `/api/posts/${q(id)}`);
        print(o, { id, status: 'deleted' }, () => `deleted ${id}`);
      }),
  );
  return cmd;
}
