/**
 * The twin's libp2p host. Its PeerId is derived from the twin's own ed25519 signing key, so the
 * Noise handshake proves that the peer holds the key published in the phonebook. TCP and
 * WebSocket transports, Noise, Yamux, identify, ping, and circuit-relay v2 (a twin behind NAT is
 * reached through a relay twin; the relayed connection is still end-to-end Noise-encrypted).
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { generateKeyPairFromSeed, publicKeyFromRaw } from '@libp2p/crypto/keys';
import { identify } from '@libp2p/identify';
import type { Libp2p, PeerId } from '@libp2p/interface';
import { peerIdFromPublicKey } from '@libp2p/peer-id';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import type { TwinIdentity } from '@twin/identity';
import { createLibp2p } from 'libp2p';
import { MAX_CONNECTIONS, MAX_RELAY_RESERVATIONS } from './constants.ts';

export interface HostOptions {
  /** Multiaddrs to listen on (default: TCP on 127.0.0.1, any port). */
  listen?: string[];
  /** Serve as a circuit relay for other twins. */
  relay?: boolean;
  /**
   * Addresses to announce in addition to the verified listen addresses. libp2p announces a
   * public address (Yggdrasil's 200::/7 counts as one) only once something verified it; a
   * twin knows its own Yggdrasil address is reachable, so it announces it outright.
   */
  appendAnnounce?: string[];
}

export type TwinHost = Libp2p<{
  identify: ReturnType<ReturnType<typeof identify>>;
  ping: ReturnType<ReturnType<typeof ping>>;
}>;

export async function createTwinHost(identity: TwinIdentity, o: HostOptions = {}): Promise<TwinHost> {
  const privateKey = await generateKeyPairFromSeed('Ed25519', identity.signingSecret);
  const services: Record<string, unknown> = { identify: identify(), ping: ping() };
  // Our relays carry whole twin conversations: no default per-connection data or time limit.
  if (o.relay)
    services.relay = circuitRelayServer({
      reservations: { maxReservations: MAX_RELAY_RESERVATIONS, applyDefaultLimit: false },
    });
  return (await createLibp2p({
    privateKey,
    addresses: { listen: o.listen ?? ['/ip4/127.0.0.1/tcp/0'], appendAnnounce: o.appendAnnounce ?? [] },
    transports: [tcp(), webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: services as never,
    connectionManager: { maxConnections: MAX_CONNECTIONS },
  })) as unknown as TwinHost;
}

/** The base64 raw ed25519 public key behind a PeerId (what the phonebook publishes). */
export function peerSigningKey(peer: PeerId): string | null {
  const raw = peer.publicKey?.raw;
  return raw ? Buffer.from(raw).toString('base64') : null;
}

/** The PeerId of a twin's record: its ed25519 signing key (base64) as a libp2p peer. Never throws for a verified record. */
export function peerIdOf(record: { signingKey: string }): PeerId {
  return peerIdFromPublicKey(publicKeyFromRaw(Buffer.from(record.signingKey, 'base64')));
}
