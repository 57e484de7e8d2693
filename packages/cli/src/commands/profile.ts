/** `twin profile get|set`: this twin's profile (shown to contacts only), or a contact's. */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { Profile } from '@twin/twin/client';
import { callApi } from '@twin/twin/client';
import { Command, InvalidArgumentError } from 'commander';
import type { JsonOptions } from '../options.ts';
import { print } from '../options.ts';
import { sub } from './contacts.ts';

type O = JsonOptions & { home: string };

const IMAGE_TYPES: Record<string, string> = {
  '.png': 'png',
  '.jpg': 'jpeg',
  '.jpeg': 'jpeg',
  '.webp': 'webp',
};

function avatar(file: string): string {
  const type = IMAGE_TYPES[extname(file).toLowerCase()];
  if (!type) throw new InvalidArgumentError('the avatar is a .png, .jpg or .webp file');
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new InvalidArgumentError(`cannot read ${file} (${(e as NodeJS.ErrnoException).code})`);
  }
  return `data:image/${type};base64,${bytes.toString('base64')}`;
}

const show = (p: Profile | null) =>
  p
    ? `${p.name || '(no name)'} — ${p.status || '(no status)'}${p.avatar ? ' [avatar]' : ''}`
    : '(no profile)';

export function profileCommand(): Command {
  const cmd = new Command('profile').description("this twin's profile, shown to its contacts only");
  cmd.addCommand(
    sub('get', "this twin's profile, or a contact's")
      .argument('[contact]')
      .option('--fresh', "ask the contact's twin now instead of showing the copy it last sent")
      .action(async (who: string | undefined, o: O & { fresh?: boolean }) => {
        const p = who
          ? (
              await callApi<{ profile: Profile | null }>(
                o.home,
                'GET',
                `/api/contacts/${encodeURIComponent(who)}/profile${o.fresh ? '?fresh=1' : ''}`,
              )
            ).profile
          : await callApi<Profile>(o.home, 'GET', '/api/profile');
        print(o, p, () => show(p));
      }),
  );
  cmd.addCommand(
    sub('set', 'change the profile (contacts are sent the new one)')
      .option('--name <name>', 'display name')
      .option('--status <text>', 'status line')
      .option('--avatar <file>', 'avatar image (.png, .jpg, .webp; at most 256 KiB)', avatar)
      .action(async (o: O & { name?: string; status?: string; avatar?: string }) => {
        const p = await callApi<Profile>(o.home, 'PUT', '/api/profile', {
          ...(o.name !== undefined ? { name: o.name } : {}),
          ...(o.status !== undefined ? { status: o.status } : {}),
          ...(o.avatar !== undefined ? { avatar: o.avatar } : {}),
        });
        print(o, p, () => show(p));
      }),
  );
  return cmd;
}
