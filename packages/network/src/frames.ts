/**
 * Writes length-prefixed frames to a stream, coalescing the frames queued in one turn of the event
 * loop (and while a write is under way) into a single write: one Yamux frame, one Noise seal and
 * one syscall for many envelopes, which is most of what a small request or acknowledgement costs
 * on the wire.
 */
import type { Stream } from '@libp2p/interface';
import type { LengthPrefixedStream } from '@libp2p/utils';

export class FrameWriter {
  private queue: Uint8Array[] = [];
  private written: (() => void)[] = [];
  private flushing = false;
  private failed: Error | null = null;

  constructor(
    private readonly lp: LengthPrefixedStream<Stream>,
    private readonly onError: (e: Error) => void,
  ) {}

  /**
   * Queues a frame; `done` runs once it is written (or can never be). A write failure goes to
   * `onError` once, and later frames are dropped.
   */
  write(frame: Uint8Array, done?: () => void): void {
    if (this.failed) {
      done?.();
      return;
    }
    this.queue.push(frame);
    if (done) this.written.push(done);
    if (!this.flushing) {
      this.flushing = true;
      // after this turn of the event loop: every frame produced in it goes out in one write
      setImmediate(() => void this.flush());
    }
  }

  private async flush(): Promise<void> {
    let written: (() => void)[] = [];
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        written = this.written;
        this.queue = [];
        this.written = [];
        if (batch.length === 1) await this.lp.write(batch[0]!);
        else await this.lp.writeV(batch);
        const done = written;
        written = [];
        for (const d of done) d();
      }
    } catch (e) {
      this.failed = e as Error;
      const done = [...written, ...this.written];
      this.queue = [];
      this.written = [];
      for (const d of done) d();
      this.onError(this.failed);
    } finally {
      this.flushing = false;
    }
  }
}
