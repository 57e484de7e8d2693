/**
 * Presence: which twins this bus has an open connection to, and when it last heard from each
 * (a verified envelope, response or byte stream from it). Cheap to ask — no network — so the
 * twin's presence view can poll it or follow the 'presence' events of the bus.
 */
import type { PeerId } from '@libp2p/interface';
import { MAX_PRESENCE_ENTRIES } from './constants.ts';

/** What is known about a twin's reachability. */
export interface Presence {
  twin: number;
  /** An open libp2p connection to the twin exists now. */
  connected: boolean;
  /** When a verified envelope, response or byte stream last came from the twin (ms since the epoch), or null. */
  lastSeen: number | null;
}

export class PresenceBook {
  private readonly lastSeen = new Map<number, number>();
  private readonly twinOfPeer = new Map<string, number>();

  /** Notes that `twin`, on the connection of `peer`, was just heard from. */
  seen(twin: number, peer?: PeerId): void {
    this.lastSeen.delete(twin);
    this.lastSeen.set(twin, Date.now());
    if (this.lastSeen.size > MAX_PRESENCE_ENTRIES) this.lastSeen.delete(this.lastSeen.keys().next().value!);
    if (peer) {
      const key = peer.toString();
      if (!this.twinOfPeer.has(key) && this.twinOfPeer.size >= MAX_PRESENCE_ENTRIES)
        this.twinOfPeer.delete(this.twinOfPeer.keys().next().value!);
      this.twinOfPeer.set(key, twin);
    }
  }

  /** The twin a peer was last verified as, if any. */
  twinOf(peer: PeerId): number | undefined {
    return this.twinOfPeer.get(peer.toString());
  }

  last(twin: number): number | null {
    return this.lastSeen.get(twin) ?? null;
  }
}
