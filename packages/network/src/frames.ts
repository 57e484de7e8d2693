/**
 * Writes length-prefixed frames to a stream, coalescing the frames queued while a write is under
 * way into a single write: one Yamux frame, one Noise seal and one syscall for many envelopes,
 * which is most of what a small request or acknowledgement costs on the wire.
 */
import type { Stream } from '@libp2p/interface';
import type { LengthPrefixedStream } from '@libp2p/utils';

export class FrameWriter {
  private queue: Uint8Array[] = [];
  private flushing = false;
  private failed: Error | null = null;

  constructor(
    private readonly lp: LengthPrefixedStream<Stream>,
    private readonly onError: (e: Error) => void,
  ) {}

  /** Queues a frame; a write failure goes to `onError` once, and later frames are dropped. */
  write(frame: Uint8Array): void {
    if (this.failed) return;
    this.queue.push(frame);
    if (!this.flushing) {
      this.flushing = true;
      void this.flush();
    }
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        if (batch.length === 1) await this.lp.write(batch[0]!);
        else await this.lp.writeV(batch);
      }
    } catch (e) {
      this.failed = e as Error;
      this.queue = [];
      this.onError(this.failed);
    } finally {
      this.flushing = false;
    }
  }
}
