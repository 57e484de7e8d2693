/** Phonebook entities and transactions. Keys are base64 strings of raw 32-byte public keys. */
import { z } from 'zod';
import { gridTxSchemas } from './grid-types.ts';
import {
  MAX_ADDRESS_LENGTH,
  MAX_ADDRESSES,
  MAX_CITY_LENGTH,
  MAX_COUNTRY_LENGTH,
  MAX_NAME_LENGTH,
  MAX_TX_BYTES,
} from './limits.ts';

/** 3-64 lowercase letters, digits, '-', '_' or '.'; not all digits (an all-digit reference is an id). */
export const NAME_RULE = /^(?!\d+$)[a-z0-9][a-z0-9\-_.]{2,63}$/;

const key = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'a base64 32-byte key');
const id = z.number().int().positive();
const nonce = z.number().int().nonnegative();
const addresses = z.array(z.string().min(1).max(MAX_ADDRESS_LENGTH)).max(MAX_ADDRESSES);
const name = z.string().max(MAX_NAME_LENGTH);
const timestamp = z.number().int().nonnegative();

export const capacitySchema = z.strictObject({
  cpu: z.number().int().nonnegative(),
  memory: z.number().int().nonnegative(),
  storage: z.number().int().nonnegative(),
});
export const locationSchema = z.strictObject({
  country: z.string().max(MAX_COUNTRY_LENGTH),
  city: z.string().max(MAX_CITY_LENGTH),
  latitude: z.number().min(-90).max(90).optional(),
  longitude: z.number().min(-180).max(180).optional(),
});

export const txSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('twin.register'),
    name,
    signingKey: key,
    encryptionKey: key,
    addresses,
    relays: addresses,
    nonce: z.literal(0),
    timestamp,
  }),
  z.strictObject({
    kind: z.literal('twin.update'),
    twin: id,
    nonce,
    timestamp,
    addresses,
    relays: addresses,
  }),
  z.strictObject({
    kind: z.literal('twin.rotate'),
    twin: id,
    nonce,
    timestamp,
    signingKey: key,
    encryptionKey: key,
  }),
  z.strictObject({ kind: z.literal('twin.delete'), twin: id, nonce, timestamp }),
  z.strictObject({ kind: z.literal('farm.create'), twin: id, nonce, timestamp, name }),
  z.strictObject({
    kind: z.literal('farm.update'),
    twin: id,
    nonce,
    timestamp,
    farm: id,
    name,
  }),
  z.strictObject({
    kind: z.literal('node.create'),
    twin: id,
    nonce,
    timestamp,
    farm: id,
    capacity: capacitySchema,
    location: locationSchema,
    addresses,
  }),
  z.strictObject({
    kind: z.literal('node.update'),
    twin: id,
    nonce,
    timestamp,
    node: id,
    capacity: capacitySchema,
    location: locationSchema,
    addresses,
  }),
  ...gridTxSchemas(capacitySchema, locationSchema),
]);

export type Tx = z.infer<typeof txSchema>;
export type TxKind = Tx['kind'];
export type Capacity = z.infer<typeof capacitySchema>;
export type Location = z.infer<typeof locationSchema>;

/** What a client submits: the canonical transaction bytes and signatures, base64. */
export const signedTxSchema = z.strictObject({
  /** base64 of at most MAX_TX_BYTES. */
  tx: z.string().max(Math.ceil(MAX_TX_BYTES / 3) * 4),
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
  /** Number of entries (the Merkle tree's size). */
  height: number;
  /** Hex hash of the last entry (the hash chain's head; '' when empty). */
  head: string;
  /** Hex RFC 9162 Merkle tree head over the entries' leaves (see EntryMeta). */
  root: string;
  timestamp: number;
}

export interface SignedCheckpoint {
  checkpoint: Checkpoint;
  signature: string;
  serverKey: string;
}

/**
 * What the ledger records beside each entry, committed in the entry's Merkle leaf (so under the
 * server's signed checkpoint) and recomputed by every replica when it replays the ledger: the
 * subject twin, the key its signature is checked against, and, after this entry, the heights of
 * the entries that set the twin's registration, its current keys and its current addresses.
 */
export interface EntryMeta {
  twin: number;
  signer: string;
  registered: number;
  keys: number;
  addresses: number;
}

/** A ledger entry with its meta and its inclusion path (hex hashes) under a proof's checkpoint. */
export interface ProvenEntry extends LedgerEntry {
  meta: EntryMeta;
  path: string[];
}

/**
 * A twin's record and what proves it, bounded whatever the twin's history: at most four entries
 * (its registration, the entry that set its keys, the one that set its addresses, its latest),
 * each with a path of log2(height) hashes under one signed checkpoint.
 */
export interface TwinProof {
  twin: TwinRecord;
  entries: ProvenEntry[];
  checkpoint: SignedCheckpoint;
}

const hex32 = z.string().regex(/^[0-9a-f]{64}$/);
const b64sig = z.string().max(128);
/** The shape of a proven entry as a client receives it (twin and contract proofs alike). */
export const provenEntrySchema = z.object({
  height: id,
  tx: z.string().max(Math.ceil(MAX_TX_BYTES / 3) * 4),
  signature: b64sig,
  proof: b64sig.optional(),
  prev: z.union([hex32, z.literal('')]),
  hash: hex32,
  meta: z.object({ twin: id, signer: key, registered: id, keys: id, addresses: id }),
  path: z.array(hex32).max(64),
});
/** The shape of a signed checkpoint as a client receives it. */
export const signedCheckpointSchema = z.object({
  checkpoint: z.object({
    height: id,
    head: z.union([hex32, z.literal('')]),
    root: hex32,
    timestamp,
  }),
  signature: b64sig,
  serverKey: key,
});
/** The shape of a proof as a client receives it (the server is not trusted to send a sane one). */
export const twinProofSchema = z.object({
  twin: z.object({
    id,
    name: z.string().max(MAX_NAME_LENGTH),
    signingKey: key,
    encryptionKey: key,
    addresses,
    relays: addresses,
    created: timestamp,
    updated: timestamp,
    nonce,
  }),
  entries: z.array(provenEntrySchema).min(1).max(4),
  checkpoint: signedCheckpointSchema,
});
