/**
 * Append-only file pair writer for one namespace: the current data file and its index file,
 * with in-memory staging so a whole batch reaches the OS in one write per file.
 */
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  openSync,
  readSync,
  writeSync,
  writevSync,
} from 'node:fs';
import { join } from 'node:path';
import { DATA_MAGIC, dataFileName, INDEX_MAGIC, indexFileName, MAGIC_SIZE } from './format.ts';
import { EngineError } from './types.ts';

/** Payloads at least this large are staged by reference and written with writev, not copied. */
export const LARGE_PAYLOAD = 64 * 1024;
/** Buffers per writev call (below every platform's IOV_MAX). */
const IOV_BATCH = 512;

/**
 * Bytes staged for one file: small records copied into `buf`, large payloads kept by reference
 * (`attach`). In file order: `parts`, then buf[mark, length).
 */
class Stage {
  buf = Buffer.allocUnsafe(64 * 1024);
  length = 0;
  /** Start of the bytes of `buf` not yet listed in `parts`. */
  private mark = 0;
  private parts: Buffer[] = [];
  /** Bytes staged in total (parts and the unlisted tail of buf). */
  private staged = 0;
  /** Bytes of the file already handed to the OS. */
  committed = 0;

  reserve(n: number): number {
    if (this.length + n > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < this.length + n) size *= 2;
      const next = Buffer.allocUnsafe(size);
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    const at = this.length;
    this.length += n;
    this.staged += n;
    return at;
  }

  /** Stages `b` itself (no copy) after everything staged so far; it must not change until flushed. */
  attach(b: Buffer): void {
    this.seal();
    this.parts.push(b);
    this.staged += b.length;
  }

  private seal(): void {
    if (this.length > this.mark) this.parts.push(this.buf.subarray(this.mark, this.length));
    this.mark = this.length;
  }

  /** Bytes staged and not yet handed to the OS. */
  get pending(): number {
    return this.staged;
  }

  /** Position in the file of the next staged byte. */
  get end(): number {
    return this.committed + this.staged;
  }

  /** A copy of `length` staged bytes starting `at` bytes past the committed end. */
  slice(at: number, length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    let pos = 0; // position of the current piece within the staged bytes
    let done = 0;
    const pieces = [...this.parts, this.buf.subarray(this.mark, this.length)];
    for (const piece of pieces) {
      if (done === length) break;
      const from = at + done - pos;
      if (from < piece.length && from >= 0) {
        const n = Math.min(piece.length - from, length - done);
        piece.copy(out, done, from, from + n);
        done += n;
      }
      pos += piece.length;
    }
    if (done !== length) throw new EngineError('io_error', `staged read past the end (${at}+${length})`);
    return out;
  }

  /** Forgets every staged byte (a commit failed: they are not in the file). */
  discard(): void {
    this.parts = [];
    this.staged = 0;
    this.length = 0;
    this.mark = 0;
  }

  flush(fd: number): void {
    if (this.parts.length === 0) {
      let done = 0;
      while (done < this.length) done += writeSync(fd, this.buf, done, this.length - done);
    } else {
      this.seal();
      let parts = this.parts;
      while (parts.length > 0) {
        const batch = parts.length > IOV_BATCH ? parts.slice(0, IOV_BATCH) : parts;
        let wrote = writevSync(fd, batch);
        let i = 0;
        while (i < batch.length && wrote >= batch[i]!.length) wrote -= batch[i++]!.length;
        // A short write leaves the rest of batch[i] (and everything after it) to go.
        parts = [...(wrote > 0 ? [batch[i]!.subarray(wrote)] : []), ...parts.slice(wrote > 0 ? i + 1 : i)];
      }
      this.parts = [];
    }
    this.committed += this.staged;
    this.staged = 0;
    this.length = 0;
    this.mark = 0;
    if (this.buf.length > 1024 * 1024) this.buf = Buffer.allocUnsafe(64 * 1024);
  }
}

export class Storage {
  fileId = 0;
  private dataFd = -1;
  private indexFd = -1;
  readonly data = new Stage();
  readonly index = new Stage();
  private readonly readFds = new Map<number, number>();
  private dirtyFds = new Set<number>();
  private syncing: Promise<void> | null = null;
  /** File pairs closed by jump() whose background fdatasync has not finished (then closed). */
  private readonly retiring = new Set<number>();
  private retired: Promise<void> = Promise.resolve();

  constructor(
    readonly dataDir: string,
    readonly indexDir: string,
  ) {}

  dataPath(id: number): string {
    return join(this.dataDir, dataFileName(id));
  }

  indexPath(id: number): string {
    return join(this.indexDir, indexFileName(id));
  }

  /** Opens (creating when needed) the file pair `id` for appending. */
  openForAppend(id: number): void {
    this.closeWriters();
    this.fileId = id;
    this.dataFd = openSync(this.dataPath(id), 'a+');
    this.indexFd = openSync(this.indexPath(id), 'a+');
    this.data.committed = fstatSync(this.dataFd).size;
    this.index.committed = fstatSync(this.indexFd).size;
    if (this.data.committed === 0) {
      writeSync(this.dataFd, DATA_MAGIC);
      this.data.committed = MAGIC_SIZE;
    }
    if (this.index.committed === 0) {
      writeSync(this.indexFd, INDEX_MAGIC);
      this.index.committed = MAGIC_SIZE;
    }
    this.dirtyFds.add(this.dataFd);
    this.dirtyFds.add(this.indexFd);
  }

  get staged(): boolean {
    return this.data.pending > 0 || this.index.pending > 0;
  }

  /** Hands staged bytes to the OS: data first, so an index record never points past its data. */
  commit(): void {
    if (this.data.pending > 0) {
      this.data.flush(this.dataFd);
      this.dirtyFds.add(this.dataFd);
    }
    if (this.index.pending > 0) {
      this.index.flush(this.indexFd);
      this.dirtyFds.add(this.indexFd);
    }
  }

  /** Drops the staged writes of both files (after a failed commit). */
  discard(): void {
    this.data.discard();
    this.index.discard();
  }

  /** Reads `length` bytes at `position` of data file `id`, from staging when not yet committed. */
  read(id: number, position: number, length: number): Buffer {
    if (id === this.fileId && position >= this.data.committed) {
      return this.data.slice(position - this.data.committed, length);
    }
    const out = Buffer.allocUnsafe(length);
    const fd = this.readFd(id);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, length - done, position + done);
      if (n === 0) throw new EngineError('io_error', `short read in ${dataFileName(id)} at ${position}`);
      done += n;
    }
    return out;
  }

  private readFd(id: number): number {
    if (id === this.fileId && this.dataFd >= 0) return this.dataFd;
    let fd = this.readFds.get(id);
    if (fd === undefined) {
      if (this.readFds.size >= 64) this.closeReaders();
      fd = openSync(this.dataPath(id), 'r');
      this.readFds.set(id, fd);
    }
    return fd;
  }

  syncNow(): void {
    this.commit();
    for (const fd of this.dirtyFds) fdatasyncSync(fd);
    this.dirtyFds.clear();
    for (const fd of this.retiring) fdatasyncSync(fd);
  }

  /** Commits then fdatasyncs the files written since the last sync; concurrent calls coalesce. */
  sync(): Promise<void> {
    this.commit();
    if (this.syncing) {
      return this.syncing.then(() => this.sync());
    }
    const fds = [...this.dirtyFds];
    this.dirtyFds = new Set();
    const retired = this.retired;
    this.retired = Promise.resolve();
    if (fds.length === 0) return retired;
    this.syncing = Promise.all([
      retired,
      ...fds.map(
        (fd) => new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve()))),
      ),
    ]).then(
      () => {
        this.syncing = null;
      },
      (e: unknown) => {
        this.syncing = null;
        throw e;
      },
    );
    return this.syncing;
  }

  private closeReaders(): void {
    for (const fd of this.readFds.values()) closeSync(fd);
    this.readFds.clear();
  }

  private closeWriters(): void {
    if (this.dataFd >= 0) {
      this.commit();
      closeSync(this.dataFd);
      closeSync(this.indexFd);
      this.dirtyFds.delete(this.dataFd);
      this.dirtyFds.delete(this.indexFd);
      this.dataFd = -1;
      this.indexFd = -1;
    }
  }

  /**
   * Rotates to the next file pair. The closed pair is fdatasynced in the background and closed
   * once synced: syncing up to --datasize bytes on this thread stalled every client for as long
   * as the disk took (~0.7 s for 256 MiB here). sync() and syncNow() include it, so --sync still
   * acknowledges nothing before it is on disk.
   */
  jump(): void {
    this.commit();
    const fds = [this.dataFd, this.indexFd];
    for (const fd of fds) {
      this.dirtyFds.delete(fd);
      this.retiring.add(fd);
    }
    this.dataFd = -1;
    this.indexFd = -1;
    const done = Promise.all(
      fds.map(
        (fd) =>
          new Promise<void>((resolve, reject) =>
            fdatasync(fd, (e) => {
              if (this.retiring.delete(fd)) closeSync(fd);
              if (e) reject(e);
              else resolve();
            }),
          ),
      ),
    ).then(() => {});
    const previous = this.retired;
    this.retired = Promise.all([previous, done]).then(() => {});
    this.retired.catch(() => {}); // reported by the next sync()
    this.openForAppend(this.fileId + 1);
  }

  close(): void {
    this.syncNow();
    this.closeWriters();
    this.closeReaders();
  }
}
