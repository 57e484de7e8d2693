/**
 * `twin files ...`: the twin's files and what contacts share with it, through the running twin's
 * API. An entry is named by its path (`/Photos/a.png`) or its id; a file another twin shares is
 * `OWNER:ID` (OWNER a name or a twin id).
 */
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { callApi, type FileEntry, streamApi } from '@twin/twin/client';
import { Command } from 'commander';
import { CliError } from '../errors.ts';
import type { JsonOptions } from '../options.ts';
import { print } from '../options.ts';
import { sub } from './contacts.ts';

type O = JsonOptions & { home: string };

const q = (s: string) => encodeURIComponent(s);
const ID = /^[0-9a-f]{24}$/;

function row(e: FileEntry & { path?: string }): string {
  const shares = e.shares.map((s) => `${s.twin}:${s.mode}`).join(',');
  const size = e.kind === 'folder' ? '-' : String(e.size);
  const where = e.path ? `${e.path === '/' ? '' : e.path}/` : '';
  return `${e.id}  ${e.kind === 'folder' ? 'd' : '-'} ${size.padStart(12)}  ${new Date(e.modified).toISOString()}  ${where}${e.name}${e.kind === 'folder' ? '/' : ''}${shares ? `  [shared ${shares}]` : ''}`;
}

function parentOf(path: string): { parent: string; name: string } {
  const trimmed = path.replace(/\/+$/, '');
  const at = trimmed.lastIndexOf('/');
  return { parent: trimmed.slice(0, at) || '/', name: trimmed.slice(at + 1) };
}

/** The entry a path or an id names. */
async function entry(home: string, ref: string): Promise<FileEntry> {
  if (ID.test(ref)) return (await callApi<{ entry: FileEntry }>(home, 'GET', `/api/files/${ref}`)).entry;
  if (!ref.startsWith('/'))
    throw new CliError('bad_name', `"${ref}" is neither a path (starting with /) nor an id`);
  const { parent, name } = parentOf(ref);
  const list = await callApi<{ entries: FileEntry[] }>(home, 'GET', `/api/files?path=${q(parent)}`);
  const e = list.entries.find((x) => x.name === name);
  if (!e) throw new CliError('not_found', `no file or folder ${ref}`);
  return e;
}

/** `OWNER:ID` of a shared file, or undefined for one of this twin's. */
function sharedRef(ref: string): { owner: string; id: string } | undefined {
  const m = /^([^/:]+):([0-9a-f]{24})$/.exec(ref);
  return m ? { owner: m[1]!, id: m[2]! } : undefined;
}

export function filesCommand(): Command {
  const cmd = new Command('files').description(
    "this twin's files and what contacts share with it (talks to the running twin)",
  );
  cmd.addCommand(
    sub('ls', 'the entries of a folder (default /)')
      .argument('[path]', 'folder path', '/')
      .option('--search <text>', 'files and folders anywhere whose name holds the text')
      .action(async (path: string, o: O & { search?: string }) => {
        const r = o.search
          ? await callApi<{ entries: FileEntry[] }>(o.home, 'GET', `/api/files/search?q=${q(o.search)}`)
          : await callApi<{ entries: FileEntry[] }>(o.home, 'GET', `/api/files?path=${q(path)}`);
        print(o, r, () => r.entries.map(row).join('\n') || '(empty)');
      }),
  );
  cmd.addCommand(
    sub('mkdir', 'create a folder (and its parents)')
      .argument('<path>')
      .action(async (path: string, o: O) => {
        const r = await callApi<{ entry: FileEntry }>(o.home, 'POST', '/api/folders', { path });
        print(o, r, () => row(r.entry));
      }),
  );
  cmd.addCommand(
    sub('put', "upload a local file into the twin's files (streamed)")
      .argument('<file>', 'local file')
      .argument('[path]', 'where in the twin (default /<file name>; a path ending in / is a folder)')
      .option('--to <owner:folder-id>', 'write into a folder another twin shares read-write with this one')
      .action(async (file: string, path: string | undefined, o: O & { to?: string }) => {
        let size: number;
        try {
          size = statSync(file).size;
        } catch {
          throw new CliError('not_found', `cannot read ${file}`);
        }
        const name = basename(file);
        let res: Response;
        if (o.to) {
          const s = sharedRef(o.to);
          if (!s) throw new CliError('bad_request', '--to takes OWNER:FOLDER-ID');
          res = await streamApi(
            o.home,
            'PUT',
            `/api/shared/${q(s.owner)}/${s.id}/content?name=${q(path ?? name)}`,
            {
              body: createReadStream(file),
              headers: { 'content-length': String(size) },
            },
          );
        } else {
          let target = !path ? `/${name}` : path.endsWith('/') ? `${path}${name}` : path;
          // an existing folder: the file goes into it
          if (
            path &&
            !path.endsWith('/') &&
            (await entry(o.home, path).catch(() => undefined))?.kind === 'folder'
          )
            target = `${path}/${name}`;
          res = await streamApi(o.home, 'PUT', `/api/files/content?path=${q(target)}`, {
            body: createReadStream(file),
            headers: { 'content-type': 'application/octet-stream' },
          });
        }
        const r = (await res.json()) as { entry: FileEntry };
        print(o, r, () => row(r.entry));
      }),
  );
  cmd.addCommand(
    sub('get', 'download a file (a path or id of this twin, or OWNER:ID shared by another twin)')
      .argument('<ref>')
      .option('--out <file>', 'where to write it (default: its name in the current directory; - for stdout)')
      .action(async (ref: string, o: O & { out?: string }) => {
        const s = sharedRef(ref);
        const url = s
          ? `/api/shared/${q(s.owner)}/${s.id}/content`
          : `/api/files/${(await entry(o.home, ref)).id}/content`;
        const res = await streamApi(o.home, 'GET', url);
        const disposition = res.headers.get('content-disposition') ?? '';
        const m = /filename\*=UTF-8''([^;]+)/.exec(disposition);
        const name = basename(m ? decodeURIComponent(m[1]!) : 'download');
        const out = o.out ?? name;
        const body = Readable.fromWeb(res.body! as import('node:stream/web').ReadableStream<Uint8Array>);
        let bytes = 0;
        body.on('data', (d: Buffer) => {
          bytes += d.length;
        });
        try {
          await pipeline(body, out === '-' ? process.stdout : createWriteStream(out));
        } catch (e) {
          throw new CliError(
            'unreachable',
            `the download broke after ${bytes} bytes: ${(e as Error).message}`,
          );
        }
        if (out !== '-') print(o, { file: out, bytes }, () => `${out}: ${bytes} bytes`);
      }),
  );
  cmd.addCommand(
    sub('mv', 'rename or move an entry (into a folder when the destination is an existing folder)')
      .argument('<ref>', 'path or id')
      .argument('<destination>', 'new path')
      .action(async (ref: string, dest: string, o: O) => {
        const e = await entry(o.home, ref);
        let body: { name?: string; parent?: string };
        const asFolder = await entry(o.home, dest).catch(() => undefined);
        if (asFolder?.kind === 'folder' && asFolder.id !== e.id) body = { parent: dest };
        else {
          const { parent, name } = parentOf(dest);
          body = { parent, name };
        }
        const r = await callApi<{ entry: FileEntry }>(o.home, 'PATCH', `/api/files/${e.id}`, body);
        print(o, r, () => row(r.entry));
      }),
  );
  cmd.addCommand(
    sub('rm', 'delete an entry (a folder with everything under it)')
      .argument('<ref>', 'path or id')
      .action(async (ref: string, o: O) => {
        const e = await entry(o.home, ref);
        await streamApi(o.home, 'DELETE', `/api/files/${e.id}`);
        print(o, { id: e.id, status: 'deleted' }, () => `deleted ${e.name}`);
      }),
  );
  cmd.addCommand(
    sub('share', 'share an entry with a contact, read-only (default) or read-write')
      .argument('<ref>', 'path or id')
      .argument('<twin>', 'contact name or id')
      .option('--write', 'read-write: the contact may add files to a shared folder')
      .action(async (ref: string, twin: string, o: O & { write?: boolean }) => {
        const e = await entry(o.home, ref);
        const r = await callApi<{ entry: FileEntry }>(o.home, 'PUT', `/api/files/${e.id}/shares/${q(twin)}`, {
          mode: o.write ? 'write' : 'read',
        });
        print(o, r, () => row(r.entry));
      }),
  );
  cmd.addCommand(
    sub('unshare', 'revoke a share')
      .argument('<ref>', 'path or id')
      .argument('<twin>', 'contact name or id')
      .action(async (ref: string, twin: string, o: O) => {
        const e = await entry(o.home, ref);
        await streamApi(o.home, 'DELETE', `/api/files/${e.id}/shares/${q(twin)}`);
        print(o, { id: e.id, twin, status: 'unshared' }, () => `${e.name} no longer shared with ${twin}`);
      }),
  );
  cmd.addCommand(
    sub('shared', 'what contacts share with this twin; with OWNER:ID of a folder, its entries')
      .argument('[ref]', 'OWNER:ID of a shared folder')
      .argument('[path]', 'a folder below it', '')
      .action(async (ref: string | undefined, path: string, o: O) => {
        if (ref) {
          const s = sharedRef(ref);
          if (!s) throw new CliError('bad_request', 'expected OWNER:ID');
          const r = await callApi<{ entries: FileEntry[] }>(
            o.home,
            'GET',
            `/api/shared/${q(s.owner)}/${s.id}?path=${q(path)}`,
          );
          print(o, r, () => r.entries.map(row).join('\n') || '(empty)');
          return;
        }
        const r = await callApi<{
          items: (FileEntry & { owner: number; ownerName: string; mode: string })[];
          unreachable: number[];
        }>(o.home, 'GET', '/api/shared');
        print(
          o,
          r,
          () =>
            [
              ...r.items.map(
                (i) =>
                  `${i.ownerName}:${i.id}  ${i.mode.padEnd(5)} ${i.kind === 'folder' ? 'd' : '-'} ${String(i.size).padStart(12)}  ${i.name}`,
              ),
              ...(r.unreachable.length ? [`(not answering: ${r.unreachable.join(', ')})`] : []),
            ].join('\n') || '(nothing shared with this twin)',
        );
      }),
  );
  return cmd;
}
