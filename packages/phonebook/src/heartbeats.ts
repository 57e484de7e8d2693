/**
 * Node liveness without the ledger growing: nodes send signed heartbeats to the server, which
 * keeps only the last one per node in memory and derives each node's status from how many
 * periods it missed (SUSPECT_AFTER_MISSED → `suspect`, DOWN_AFTER_MISSED → `down`). After a
 * server restart every node is `down` until its next heartbeat (at most one period later).
 */
import { verify } from '@twin/identity';
import { canonical, type Json } from './canonical.ts';
import { PhonebookError } from './errors.ts';
import { heartbeatSchema, type NodeStatus, type SignedHeartbeat } from './grid-types.ts';
import {
  DEFAULT_HEARTBEAT_MS,
  DOWN_AFTER_MISSED,
  MAX_HEARTBEAT_SKEW_MS,
  MIN_HEARTBEAT_GAP_MS,
  SUSPECT_AFTER_MISSED,
} from './limits.ts';
import type { NodeRecord, TwinRecord } from './types.ts';

export const HEARTBEAT_CONTEXT = 'twin/phonebook/heartbeat/v1';

interface Seen {
  /** Server clock when accepted. */
  at: number;
  /** The node's own timestamp (strictly increasing: a replay is refused). */
  timestamp: number;
  interval: number;
  used?: NodeStatus['used'];
}

export class HeartbeatBoard {
  private readonly seen = new Map<number, Seen>();

  constructor(
    private readonly nodes: Map<number, NodeRecord>,
    private readonly twins: Map<number, TwinRecord>,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Verifies and records a heartbeat; throws PhonebookError when it is refused. */
  beat(signed: SignedHeartbeat): NodeStatus {
    const bytes = Buffer.from(signed.heartbeat, 'base64');
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new PhonebookError('bad_request', 'heartbeat is not JSON');
    }
    const parsed = heartbeatSchema.safeParse(json);
    if (!parsed.success)
      throw new PhonebookError('bad_request', `invalid heartbeat: ${parsed.error.issues[0]?.message}`);
    if (canonical(json as Json) !== bytes.toString('utf8'))
      throw new PhonebookError('bad_request', 'heartbeat bytes are not canonical JSON');
    const hb = parsed.data;
    const node = this.nodes.get(hb.node);
    if (!node) throw new PhonebookError('not_found', `node ${hb.node} does not exist`);
    const twin = this.twins.get(node.twin);
    if (
      !twin ||
      !verify(
        HEARTBEAT_CONTEXT,
        bytes,
        Buffer.from(signed.signature, 'base64'),
        Buffer.from(twin.signingKey, 'base64'),
      )
    )
      throw new PhonebookError('bad_signature', `heartbeat is not signed by node ${hb.node}'s twin`);
    const now = this.clock();
    if (Math.abs(hb.timestamp - now) > MAX_HEARTBEAT_SKEW_MS)
      throw new PhonebookError('bad_timestamp', `heartbeat timestamp is ${hb.timestamp - now} ms off`);
    const last = this.seen.get(hb.node);
    if (last && hb.timestamp <= last.timestamp)
      throw new PhonebookError('bad_nonce', 'heartbeat is not newer than the last one (replayed)');
    if (last && now - last.at < MIN_HEARTBEAT_GAP_MS)
      throw new PhonebookError('rate_limited', `heartbeats from node ${hb.node} come too fast`);
    this.seen.set(hb.node, {
      at: now,
      timestamp: hb.timestamp,
      interval: hb.interval,
      ...(hb.used ? { used: hb.used } : {}),
    });
    return this.status(hb.node);
  }

  status(node: number): NodeStatus {
    const s = this.seen.get(node);
    if (!s) return { node, status: 'down', lastSeen: null, interval: DEFAULT_HEARTBEAT_MS };
    const missed = Math.floor((this.clock() - s.at) / s.interval);
    const status = missed >= DOWN_AFTER_MISSED ? 'down' : missed >= SUSPECT_AFTER_MISSED ? 'suspect' : 'up';
    return { node, status, lastSeen: s.at, interval: s.interval, ...(s.used ? { used: s.used } : {}) };
  }

  all(): NodeStatus[] {
    return [...this.nodes.keys()].sort((a, b) => a - b).map((n) => this.status(n));
  }
}
