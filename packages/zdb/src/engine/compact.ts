/**
 * Offline compaction: rewrites a namespace keeping only live entries (latest version of each
 * key, in write order, with their original timestamps). Crash-safe: the copy is built beside the
 * original, then swapped by renames; engine open completes or rolls back an interrupted swap.
 */
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, NONE } from './format.ts';
import { DESCRIPTOR, type Descriptor, NamespaceImpl, writeDescriptor } from './namespace.ts';
import { EngineError, type EngineOptions } from './types.ts';

export interface CompactionResult {
  namespace: string;
  entries: number;
  bytesBefore: number;
  bytesAfter: number;
}

export function compactNamespace(options: EngineOptions, name: string): CompactionResult {
  const indexDir = join(options.indexDir, name);
  if (!existsSync(join(indexDir, DESCRIPTOR)))
    throw new EngineError('namespace_not_found', 'Namespace not found');
  const descriptor = JSON.parse(readFileSync(join(indexDir, DESCRIPTOR), 'utf8')) as Descriptor;
  const source = new NamespaceImpl(
    name,
    join(options.dataDir, name),
    indexDir,
    descriptor,
    options,
    () => {},
  );
  source.load();
  const before = source.stats();
  const tmp = `${name}.compact`;
  rmSync(join(options.indexDir, tmp), { recursive: true, force: true });
  rmSync(join(options.dataDir, tmp), { recursive: true, force: true });
  const target = new NamespaceImpl(
    tmp,
    join(options.dataDir, tmp),
    join(options.indexDir, tmp),
    descriptor,
    options,
    () => {},
  );
  target.load();
  writeDescriptor(target.indexDir, descriptor);

  let cursor: Buffer | null = null;
  let entries = 0;
  for (;;) {
    const page = source.scan(cursor, 1024, false);
    if (page.entries.length === 0) break;
    for (const e of page.entries) {
      const value = source.get(e.key);
      if (value === null) continue;
      copyEntry(target, e.key, value, e.timestamp);
      entries++;
    }
    cursor = page.cursor;
    target.storage.commit();
  }
  source.close();
  target.close();
  const after = target.stats();

  for (const root of [options.indexDir, options.dataDir])
    renameSync(join(root, name), join(root, `${name}.old`));
  for (const root of [options.indexDir, options.dataDir]) renameSync(join(root, tmp), join(root, name));
  for (const root of [options.indexDir, options.dataDir])
    rmSync(join(root, `${name}.old`), { recursive: true, force: true });
  return {
    namespace: name,
    entries,
    bytesBefore: before.dataDiskBytes + before.indexDiskBytes,
    bytesAfter: after.dataDiskBytes + after.indexDiskBytes,
  };
}

/** Appends one live entry keeping its timestamp (history does not survive compaction). */
function copyEntry(target: NamespaceImpl, key: Buffer, value: Buffer, timestamp: number): void {
  const crc = crc32(value);
  const at = target.appendEntry(key, value, 0, crc, NONE, NONE, timestamp);
  target.index.put(key, at.file, at.offset, value.length, crc, timestamp, NONE, NONE);
}
