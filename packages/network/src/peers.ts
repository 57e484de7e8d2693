/**
 * Which twin a connection is. libp2p's Noise handshake proved that the remote peer holds the
 * ed25519 key its PeerId is; the twin is the phonebook record that holds that key (the phonebook
 * gives each key to at most one twin). The answer is looked up by key — never by the id an
 * envelope claims, so a stranger cannot make this twin query the phonebook for ids of its
 * choosing — once per connection, shared by every stream and envelope on it, and again after
 * PEER_RECHECK_MS so that a key rotated away stops vouching for its twin.
 */
import type { Connection } from '@libp2p/interface';
import type { TwinRecord } from '@twin/phonebook';
import { PEER_RECHECK_MS, PEER_UNKNOWN_RECHECK_MS } from './constants.ts';
import type { BusContext } from './context.ts';
import { NetworkError } from './errors.ts';
import { peerSigningKey } from './host.ts';

interface Binding {
  until: number;
  twin: Promise<TwinRecord | NetworkError>;
}

export class Peers {
  private readonly bound = new WeakMap<Connection, Binding>();

  constructor(private readonly ctx: BusContext) {}

  /**
   * The twin `connection` is authenticated as. Throws NetworkError `unknown_twin` when its key is
   * no twin's (or the phonebook cannot say).
   */
  async twin(connection: Connection): Promise<TwinRecord> {
    let b = this.bound.get(connection);
    if (!b || b.until < Date.now()) {
      const twin = this.lookup(connection);
      b = { until: Number.POSITIVE_INFINITY, twin };
      this.bound.set(connection, b);
      const binding = b;
      void twin.then((r) => {
        binding.until = Date.now() + (r instanceof NetworkError ? PEER_UNKNOWN_RECHECK_MS : PEER_RECHECK_MS);
      });
    }
    const r = await b.twin;
    if (r instanceof NetworkError) throw r;
    this.ctx.presence.seen(r.id, connection.remotePeer);
    return r;
  }

  /** Never rejects: a failure is the NetworkError to throw. */
  private async lookup(connection: Connection): Promise<TwinRecord | NetworkError> {
    const key = peerSigningKey(connection.remotePeer);
    if (!key) return new NetworkError('unknown_twin', 'the connection has no ed25519 key');
    try {
      const record = await this.ctx.phonebook.twinByKey(key);
      if (record && record.signingKey === key) return record;
      return new NetworkError('unknown_twin', `the connection's key (${key}) is no twin's`);
    } catch (e) {
      return new NetworkError(
        'unknown_twin',
        `the connection's twin could not be verified: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  }
}
