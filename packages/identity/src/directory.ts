/** Private directories: a twin's home and the directories in it. */
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { IdentityError } from './errors.ts';

/**
 * Creates `path` and each missing parent one level at a time, each with `mode` (Node's recursive
 * mkdir loops forever when the kernel answers ENOENT for a directory whose parent exists, as
 * under /proc). A directory that exists is left as it is.
 * @param path - the directory to make
 * @param mode - the mode of each directory created (default 0700: private)
 * @throws IdentityError `bad_directory` when `path` or a parent exists and is not a directory, or
 *   cannot be created (the file system's error is its cause)
 * @example
 * ```ts
 * makeDirectory('/home/me/.twin'); // and /home/me when missing, each 0700
 * ```
 */
export function makeDirectory(path: string, mode = 0o700): void {
  try {
    if (statSync(path).isDirectory()) return;
    throw new IdentityError('bad_directory', `${path} exists and is not a directory`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw asDirectoryError(path, e);
  }
  const parent = dirname(path);
  if (parent !== path) makeDirectory(parent, mode);
  try {
    mkdirSync(path, { mode });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw asDirectoryError(path, e);
  }
}

function asDirectoryError(path: string, e: unknown): IdentityError {
  if (e instanceof IdentityError) return e;
  const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  return new IdentityError('bad_directory', `cannot create ${path} (${code})`, { cause: e });
}
