/**
 * What a twin publishes in its TFChain `relay` field. TFChain keeps one relay string per twin,
 * written only by the twin's own account (a signed extrinsic) and restricted to a host name's
 * characters (letters, digits, '-', '_', dot-separated labels). We use it for the twin's name
 * claim and its libp2p addresses:
 *
 *   tw1.<name>.<hex of a binary multiaddr>.<hex of another>...
 *
 * Each address is stored without its trailing /p2p/<peer id> (the peer id follows from the twin's
 * signing key, which is its account) and gets it back when read. The name is only a claim: a
 * reader accepts it when the name contract of that name belongs to the same twin (see
 * TfchainPhonebook.twin). Addresses need no more than the account's signature: a wrong address only
 * fails to connect, because the Noise handshake proves the peer holds the twin's key.
 */
import { publicKeyFromRaw } from '@libp2p/crypto/keys';
import { peerIdFromPublicKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { TfchainError } from './errors.ts';

/** The longest relay value this backend writes (TFChain accepts at least this much). */
export const MAX_RELAY_LENGTH = 200;
const VERSION = 'tw1';
const P2P = 421;

export interface RelayRecord {
  name: string;
  addresses: string[];
}

/** What TFChain accepts as a name contract's name (and what fits in one relay label). */
export const TFCHAIN_NAME_RULE = /^[a-z0-9_-]{3,64}$/;

/**
 * The relay value for `name` and as many of `addresses` as fit, in their order.
 * @throws TfchainError `bad_name` for a name TFChain would refuse; `too_large` when addresses
 * were given and not even the first fits
 */
export function encodeRelay(name: string, addresses: readonly string[]): string {
  if (!TFCHAIN_NAME_RULE.test(name))
    throw new TfchainError(
      'bad_name',
      `TFChain names are 3-64 lowercase letters, digits, '-' or '_': ${JSON.stringify(name)} is not one`,
    );
  let out = `${VERSION}.${name}`;
  for (const address of addresses) {
    let ma = multiaddr(address);
    if (ma.getComponents().at(-1)?.code === P2P) ma = ma.decapsulateCode(P2P);
    const label = Buffer.from(ma.bytes).toString('hex');
    if (out.length + 1 + label.length > MAX_RELAY_LENGTH) continue;
    out += `.${label}`;
  }
  if (addresses.length > 0 && out === `${VERSION}.${name}`)
    throw new TfchainError('too_large', `address ${addresses[0]} does not fit in TFChain's relay field`);
  return out;
}

/** The record in a relay value, addresses completed with the twin's peer id; null when it is not ours. */
export function decodeRelay(relay: string, signingKey: Uint8Array): RelayRecord | null {
  const labels = relay.split('.');
  if (labels[0] !== VERSION || labels.length < 2) return null;
  const peer = peerIdFromPublicKey(publicKeyFromRaw(signingKey)).toString();
  const addresses: string[] = [];
  for (const label of labels.slice(2)) {
    try {
      if (!/^([0-9a-f]{2})+$/.test(label)) continue;
      addresses.push(`${multiaddr(Buffer.from(label, 'hex')).toString()}/p2p/${peer}`);
    } catch {
      // an address this version cannot read: skipped, the others still serve
    }
  }
  return { name: labels[1]!, addresses };
}
