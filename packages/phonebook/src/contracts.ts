/**
 * The grid's rules on the ledger: node registration (a node is a twin of its own, admitted to a
 * farm by the farm owner's grant) and the contract state machine. Validation happens before any
 * change, so a refused transaction leaves the state untouched; expiry is decided by the
 * transactions' own timestamps (bounded against the server clock on submission), so every
 * replica replaying the ledger reaches the same states.
 */
import { verify } from '@twin/identity';
import { canonicalBytes } from './canonical.ts';
import { PhonebookError } from './errors.ts';
import type { ContractRecord, ContractState } from './grid-types.ts';
import type { ProofPointer } from './ledger.ts';
import { DEFAULT_ACCEPT_WITHIN_MS } from './limits.ts';
import type { EntryMeta, FarmRecord, NodeRecord, TwinRecord, Tx } from './types.ts';

/** Domain of the farm owner's grant admitting a node key to a farm. */
export const FARM_GRANT_CONTEXT = 'twin/phonebook/farm-grant/v1';

/** The bytes a farm owner signs to admit the node whose twin holds `nodeKey` (base64) to `farm`. */
export function farmGrantBytes(farm: number, nodeKey: string): Buffer {
  return canonicalBytes({ farm, nodeKey });
}

/** A contract's state at `now`: a pending one past its deadline is expired. */
export function contractStateAt(c: ContractRecord, now: number): ContractState {
  return c.state === 'pending' && now > c.acceptBy ? 'expired' : c.state;
}

/** The entries that prove a contract: its creation, the one that set its hash, its acceptance, its latest. */
export interface ContractPointers {
  created: ProofPointer;
  hashSet: ProofPointer;
  accepted?: ProofPointer;
  latest: ProofPointer;
}

type GridTx = Extract<
  Tx,
  { kind: 'node.register' | 'contract.create' | 'contract.accept' | 'contract.update' | 'contract.cancel' }
>;

export function isGridTx(tx: Tx): tx is GridTx {
  return tx.kind === 'node.register' || tx.kind.startsWith('contract.');
}

const conflict = (message: string) => new PhonebookError('conflict', message);

export class GridState {
  readonly contracts = new Map<number, ContractRecord>();
  readonly pointers = new Map<number, ContractPointers>();
  /** Active contracts by `${node}/${hash}`: one per pair. */
  private readonly active = new Map<string, number>();
  readonly nodeByTwin = new Map<number, number>();

  constructor(
    private readonly nodes: Map<number, NodeRecord>,
    private readonly farms: Map<number, FarmRecord>,
    private readonly twins: Map<number, TwinRecord>,
  ) {}

  /**
   * Validates a grid transaction (already signed by its subject, nonce checked) at ledger
   * `height`, then applies it. `newNode` is the id a registration gets. Returns what it touched.
   */
  apply(tx: GridTx, height: number, newNode: number): { node?: number; contract?: number } {
    switch (tx.kind) {
      case 'node.register':
        return { node: this.register(tx, newNode) };
      case 'contract.create': {
        const node = this.nodes.get(tx.node);
        if (!node) throw new PhonebookError('not_found', `node ${tx.node} does not exist`);
        const acceptBy = tx.timestamp + (tx.acceptWithin ?? DEFAULT_ACCEPT_WITHIN_MS);
        this.contracts.set(height, {
          id: height,
          twin: tx.twin,
          node: tx.node,
          deploymentHash: tx.deploymentHash,
          state: 'pending',
          created: tx.timestamp,
          acceptBy,
          updated: tx.timestamp,
        });
        return { contract: height };
      }
      case 'contract.accept': {
        const c = this.live(tx.contract, tx.timestamp);
        const node = this.nodes.get(c.node)!;
        if (node.twin !== tx.twin)
          throw new PhonebookError(
            'forbidden',
            `contract ${c.id} is for node ${c.node}, not signed by its twin`,
          );
        if (c.state !== 'pending') throw conflict(`contract ${c.id} is already ${c.state}`);
        if (c.deploymentHash !== tx.deploymentHash)
          throw conflict(`contract ${c.id} holds another deployment hash than the one accepted`);
        this.claim(c.node, c.deploymentHash, c.id);
        this.contracts.set(c.id, { ...c, state: 'active', accepted: tx.timestamp, updated: tx.timestamp });
        return { contract: c.id };
      }
      case 'contract.update': {
        const c = this.owned(tx.contract, tx.twin, tx.timestamp);
        if (c.deploymentHash === tx.deploymentHash)
          throw conflict(`contract ${c.id} already holds this deployment hash`);
        if (c.state === 'active') {
          this.claim(c.node, tx.deploymentHash, c.id);
          this.active.delete(`${c.node}/${c.deploymentHash}`);
        }
        this.contracts.set(c.id, { ...c, deploymentHash: tx.deploymentHash, updated: tx.timestamp });
        return { contract: c.id };
      }
      case 'contract.cancel': {
        const c = this.contracts.get(tx.contract);
        if (!c) throw new PhonebookError('not_found', `contract ${tx.contract} does not exist`);
        const byNode = this.nodes.get(c.node)!.twin === tx.twin && c.twin !== tx.twin;
        if (!byNode && c.twin !== tx.twin)
          throw new PhonebookError('forbidden', `contract ${c.id} belongs to twin ${c.twin}`);
        const state = contractStateAt(c, tx.timestamp);
        if (state === 'cancelled' || state === 'expired')
          throw conflict(`contract ${c.id} is already ${state}`);
        if (byNode && state !== 'pending')
          throw new PhonebookError(
            'forbidden',
            `node ${c.node} accepted contract ${c.id}: only its twin cancels it`,
          );
        if (state === 'active') this.active.delete(`${c.node}/${c.deploymentHash}`);
        this.contracts.set(c.id, {
          ...c,
          state: 'cancelled',
          cancelledBy: byNode ? 'node' : 'twin',
          updated: tx.timestamp,
        });
        return { contract: c.id };
      }
    }
  }

  /** Records which entries prove the contract an entry touched (after it was applied). */
  point(contract: number, height: number, meta: EntryMeta, tx: GridTx): void {
    const here = { height, meta };
    const before = this.pointers.get(contract);
    if (!before) {
      this.pointers.set(contract, { created: here, hashSet: here, latest: here });
      return;
    }
    this.pointers.set(contract, {
      ...before,
      ...(tx.kind === 'contract.update' ? { hashSet: here } : {}),
      ...(tx.kind === 'contract.accept' ? { accepted: here } : {}),
      latest: here,
    });
  }

  private register(tx: Extract<GridTx, { kind: 'node.register' }>, newNode: number): number {
    const farm = this.farms.get(tx.farm);
    if (!farm) throw new PhonebookError('not_found', `farm ${tx.farm} does not exist`);
    const held = this.nodeByTwin.get(tx.twin);
    if (held !== undefined) throw conflict(`twin ${tx.twin} is already node ${held}`);
    const owner = this.twins.get(farm.twin);
    const nodeKey = this.twins.get(tx.twin)!.signingKey;
    if (
      !owner ||
      !verify(
        FARM_GRANT_CONTEXT,
        farmGrantBytes(farm.id, nodeKey),
        Buffer.from(tx.grant, 'base64'),
        Buffer.from(owner.signingKey, 'base64'),
      )
    )
      throw new PhonebookError('forbidden', `farm ${farm.id}'s owner did not admit this node`);
    this.nodes.set(newNode, {
      id: newNode,
      farm: tx.farm,
      twin: tx.twin,
      capacity: tx.capacity as NodeRecord['capacity'],
      location: tx.location as NodeRecord['location'],
      addresses: tx.addresses,
      created: tx.timestamp,
      updated: tx.timestamp,
    });
    this.nodeByTwin.set(tx.twin, newNode);
    return newNode;
  }

  /** A contract that is neither cancelled nor expired at `at`. */
  private live(id: number, at: number): ContractRecord {
    const c = this.contracts.get(id);
    if (!c) throw new PhonebookError('not_found', `contract ${id} does not exist`);
    const state = contractStateAt(c, at);
    if (state === 'cancelled' || state === 'expired') throw conflict(`contract ${id} is ${state}`);
    return c;
  }

  private owned(id: number, twin: number, at: number): ContractRecord {
    const c = this.live(id, at);
    if (c.twin !== twin) throw new PhonebookError('forbidden', `contract ${id} belongs to twin ${c.twin}`);
    return c;
  }

  /** Refuses a second active contract for the same node and hash. */
  private claim(node: number, hash: string, id: number): void {
    const holder = this.active.get(`${node}/${hash}`);
    if (holder !== undefined && holder !== id)
      throw conflict(`node ${node} already has active contract ${holder} for this deployment hash`);
    this.active.set(`${node}/${hash}`, id);
  }
}
