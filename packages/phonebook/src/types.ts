/** Phonebook entities and transactions. Keys are base64 strings of raw 32-byte public keys. */
import { z } from 'zod';

export const NAME_RULE = /^[a-z0-9][a-z0-9\-_.]{2,63}$/;

const key = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'a base64 32-byte key');
const id = z.number().int().positive();
const nonce = z.number().int().nonnegative();
const addresses = z.array(z.string().min(1).max(512)).max(32);
const timestamp = z.number().int().nonnegative();

export const capacitySchema = z.object({
  cpu: z.number().int().nonnegative(),
  memory: z.number().int().nonnegative(),
  storage: z.number().int().nonnegative(),
});
export const locationSchema = z.object({
  country: z.string().max(64),
  city: z.string().max(128),
  latitude: z.number().min(-90).max(90).optional(),
  longitude: z.number().min(-180).max(180).optional(),
});

export const txSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('twin.register'),
    name: z.string().max(64),
    signingKey: key,
    encryptionKey: key,
    addresses,
    relays: addresses,
    nonce: z.literal(0),
    timestamp,
  }),
  z.object({ kind: z.literal('twin.update'), twin: id, nonce, timestamp, addresses, relays: addresses }),
  z.object({
    kind: z.literal('twin.rotate'),
    twin: id,
    nonce,
    timestamp,
    signingKey: key,
    encryptionKey: key,
  }),
  z.object({ kind: z.literal('twin.delete'), twin: id, nonce, timestamp }),
  z.object({ kind: z.literal('farm.create'), twin: id, nonce, timestamp, name: z.string().max(64) }),
  z.object({
    kind: z.literal('farm.update'),
    twin: id,
    nonce,
    timestamp,
    farm: id,
    name: z.string().max(64),
  }),
  z.object({
    kind: z.literal('node.create'),
    twin: id,
    nonce,
    timestamp,
    farm: id,
    capacity: capacitySchema,
    location: locationSchema,
    addresses,
  }),
  z.object({
    kind: z.literal('node.update'),
    twin: id,
    nonce,
    timestamp,
    node: id,
    capacity: capacitySchema,
    location: locationSchema,
    addresses,
  }),
]);

export type Tx = z.infer<typeof txSchema>;
export type TxKind = Tx['kind'];
export type Capacity = z.infer<typeof capacitySchema>;
export type Location = z.infer<typeof locationSchema>;

/** What a client submits: the canonical transaction bytes and signatures, base64. */
export const signedTxSchema = z.object({
  tx: z.string().max(16_384),
  signature: z.string().max(128),
  /** twin.rotate only: the new key's signature, proving possession. */
  proof: z.string().max(128).optional(),
});
export type SignedTx = z.infer<typeof signedTxSchema>;

/** One ledger entry as stored and served. */
export interface LedgerEntry {
  height: number;
  tx: string;
  signature: string;
  proof?: string;
  /** Hex sha256 of the previous entry ('' for the first). */
  prev: string;
  hash: string;
}

export interface TwinRecord {
  id: number;
  name: string;
  signingKey: string;
  encryptionKey: string;
  addresses: string[];
  relays: string[];
  created: number;
  updated: number;
  /** The nonce of the twin's last transaction; the next one must be nonce + 1. */
  nonce: number;
}

export interface FarmRecord {
  id: number;
  name: string;
  twin: number;
  created: number;
  updated: number;
}

export interface NodeRecord {
  id: number;
  farm: number;
  twin: number;
  capacity: Capacity;
  location: Location;
  addresses: string[];
  created: number;
  updated: number;
}

export interface Checkpoint {
  height: number;
  head: string;
  timestamp: number;
}

export interface SignedCheckpoint {
  checkpoint: Checkpoint;
  signature: string;
  serverKey: string;
}

/** A twin's record with the ledger entries that prove it. */
export interface TwinProof {
  twin: TwinRecord;
  entries: LedgerEntry[];
}
