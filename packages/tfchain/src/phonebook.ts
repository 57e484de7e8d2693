/**
 * TfchainPhonebook: the Twin Phonebook and the grid's contracts on TFChain. Same records as the
 * ledger's client (TwinRecord, FarmRecord, NodeRecord, ContractRecord) so callers read either.
 *
 * - A twin's account is the ed25519 key pair of its own signing key (derived from its mnemonic):
 *   its chain address is its phonebook key, so `twinByKey` is TFChain's `twinIdByAccountID`.
 *   Its x25519 key is the TFChain twin's `pk`.
 * - A name is a TFChain name contract owned by the twin: unique on the chain, held while the
 *   contract lives (it is billed), released when cancelled. The twin's relay field claims the
 *   name too (see relay.ts); a claim is believed only when the contract of that name is the twin's.
 * - Addresses live in the relay field (relay.ts): only the account can write it, and Noise proves
 *   the key at connection time anyway.
 * - Reads trust the chain node this connects to (no light-client proof): run your own node, or
 *   pick one you trust. See the package README.
 */

import type { TwinIdentity } from '@twin/identity';
import type { Capacity, ContractRecord, FarmRecord, Location, NodeRecord, TwinRecord } from '@twin/phonebook';
import { accountOf, Chain, type Dyn, parseTfchainUrl } from './chain.ts';
import { TfchainError } from './errors.ts';
import { decodeRelay, encodeRelay } from './relay.ts';

/** The terms and conditions a twin accepts on its first publish (link and its document hash). */
export const TERMS_LINK = 'https://library.threefold.me/info/legal/#/';
export const TERMS_HASH = 'tfchain-terms-v1';

/** A contract event as the node agent follows it. */
export interface ContractEvent {
  kind: 'created' | 'updated' | 'cancelled';
  contract: number;
  node: number;
  twin: number;
  /** Hex, for created and updated. */
  deploymentHash?: string;
}

const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');
const utf8 = (hex: string | null | undefined) =>
  hex ? Buffer.from(hex.replace(/^0x/, ''), 'hex').toString('utf8') : '';

export interface TfchainPhonebookOptions {
  /** The @polkadot/api module to use (default: imported on connect). */
  polkadot?: Dyn;
}

export class TfchainPhonebook {
  private constructor(readonly chain: Chain) {}

  /** Connects to `url` (`tfchain+ws://HOST:PORT`). TfchainError `bad_url`, `unavailable`, `missing_dependency`. */
  static async connect(url: string, o: TfchainPhonebookOptions = {}): Promise<TfchainPhonebook> {
    return new TfchainPhonebook(await Chain.connect(parseTfchainUrl(url), o.polkadot));
  }

  close(): Promise<void> {
    return this.chain.close();
  }

  private get api(): Dyn {
    return this.chain.api;
  }

  /** The chain address (ss58) of a twin's account. */
  address(identity: TwinIdentity): string {
    return accountOf(this.chain.polkadot, identity).address;
  }

  private keyOf(address: string): Uint8Array {
    return new this.chain.polkadot.Keyring({ type: 'ed25519' }).decodeAddress(address);
  }

  private async nameOwner(name: string): Promise<{ contract: number; twin: number } | null> {
    const id = (await this.api.query.smartContractModule.contractIDByNameRegistration(name)).toNumber();
    if (!id) return null;
    const c = (await this.api.query.smartContractModule.contracts(id)).toJSON();
    return c?.contractType?.nameContract ? { contract: id, twin: c.twinId } : null;
  }

  private async record(id: number): Promise<TwinRecord | null> {
    const t = (await this.api.query.tfgridModule.twins(id)).toJSON();
    if (!t) return null;
    const key = this.keyOf(t.accountId);
    const claim = t.relay ? decodeRelay(utf8(t.relay), key) : null;
    const owner = claim ? await this.nameOwner(claim.name) : null;
    return {
      id,
      name: owner?.twin === id ? claim!.name : '',
      signingKey: b64(key),
      encryptionKey: t.pk ? b64(Buffer.from(t.pk.replace(/^0x/, ''), 'hex')) : '',
      addresses: claim?.addresses ?? [],
      relays: [],
      created: 0,
      updated: 0,
      nonce: 0,
    };
  }

  /** A twin by id or name; TfchainError `not_found`. */
  async twin(ref: string | number, _fresh = false): Promise<TwinRecord> {
    let id: number | undefined;
    if (typeof ref === 'number' || /^\d+$/.test(ref)) id = Number(ref);
    else id = (await this.nameOwner(ref.toLowerCase()))?.twin;
    const record = id === undefined ? null : await this.record(id);
    if (!record) throw new TfchainError('not_found', `no twin ${ref} on TFChain`);
    return record;
  }

  /** The twin whose account is this signing key (base64 or raw); null when it has none. */
  async twinByKey(signingKey: Uint8Array | string): Promise<TwinRecord | null> {
    const raw = typeof signingKey === 'string' ? Buffer.from(signingKey, 'base64') : signingKey;
    const address = new this.chain.polkadot.Keyring({ type: 'ed25519', ss58Format: 42 }).encodeAddress(raw);
    const id = (await this.api.query.tfgridModule.twinIdByAccountID(address)).toJSON();
    return id ? this.record(id) : null;
  }

  /** Accepts TFChain's terms and conditions for the twin's account unless it already did. */
  async acceptTerms(identity: TwinIdentity): Promise<void> {
    const account = accountOf(this.chain.polkadot, identity);
    const accepted = await this.api.query.tfgridModule.usersTermsAndConditions(account.address);
    if (accepted.length > 0) return;
    await this.chain.submit(this.api.tx.tfgridModule.userAcceptTc(TERMS_LINK, TERMS_HASH), account);
  }

  /**
   * Registers the twin (terms, twin with its x25519 key, a name contract for its name) or updates
   * its addresses; returns its record. Addresses left undefined keep the current ones. The account
   * must hold TFT (TfchainError `no_funds`); a name held by another twin is `name_taken`.
   */
  async publish(identity: TwinIdentity, addresses?: string[]): Promise<TwinRecord> {
    const account = accountOf(this.chain.polkadot, identity);
    const name = identity.name.toLowerCase();
    encodeRelay(name, []); // a name TFChain refuses fails here, before any extrinsic
    const owner = await this.nameOwner(name);
    let me = await this.twinByKey(identity.signingPublicKey);
    if (owner && owner.twin !== me?.id)
      throw new TfchainError('name_taken', `the name ${name} belongs to twin ${owner.twin} on TFChain`);
    const relay = encodeRelay(name, addresses ?? me?.addresses ?? []);
    const pk = `0x${Buffer.from(identity.encryptionPublicKey).toString('hex')}`;
    const tf = this.api.tx.tfgridModule;
    if (!me) {
      await this.acceptTerms(identity);
      await this.chain.submit(tf.createTwin(relay, pk), account);
    } else if (addresses && (addresses.join() !== me.addresses.join() || me.name !== name)) {
      await this.chain.submit(tf.updateTwin(relay, pk), account);
    }
    if (!owner) await this.chain.submit(this.api.tx.smartContractModule.createNameContract(name), account);
    me = await this.twinByKey(identity.signingPublicKey);
    if (!me) throw new TfchainError('unavailable', 'the twin was created but the node does not show it yet');
    return me;
  }

  /** Every farm (a scan: fine for a local or test chain, slow on the main one). */
  async farms(): Promise<FarmRecord[]> {
    const entries = await this.api.query.tfgridModule.farms.entries();
    return entries
      .map(([, v]: Dyn) => v.toJSON())
      .filter(Boolean)
      .map((f: Dyn) => ({ id: f.id, name: utf8(f.name), twin: f.twinId, created: 0, updated: 0 }))
      .sort((a: FarmRecord, b: FarmRecord) => a.id - b.id);
  }

  private node(n: Dyn): NodeRecord {
    const lat = Number(utf8(n.location.latitude));
    const lon = Number(utf8(n.location.longitude));
    return {
      id: n.id,
      farm: n.farmId,
      twin: n.twinId,
      capacity: { cpu: n.resources.cru, memory: n.resources.mru, storage: n.resources.sru },
      location: {
        country: utf8(n.location.country),
        city: utf8(n.location.city),
        ...(Number.isFinite(lat) ? { latitude: lat } : {}),
        ...(Number.isFinite(lon) ? { longitude: lon } : {}),
      },
      addresses: [],
      created: n.created * 1000,
      updated: n.created * 1000,
    };
  }

  async nodes(): Promise<NodeRecord[]> {
    const entries = await this.api.query.tfgridModule.nodes.entries();
    return entries
      .map(([, v]: Dyn) => v.toJSON())
      .filter(Boolean)
      .map((n: Dyn) => this.node(n))
      .sort((a: NodeRecord, b: NodeRecord) => a.id - b.id);
  }

  /** Creates a farm owned by the identity's twin; its record. */
  async createFarm(identity: TwinIdentity, name: string): Promise<FarmRecord> {
    const account = accountOf(this.chain.polkadot, identity);
    const { events } = await this.chain.submit(this.api.tx.tfgridModule.createFarm(name, []), account);
    const stored = events.find((e: Dyn) => e.section === 'tfgridModule' && e.method === 'FarmStored');
    const f = stored.data[0].toJSON();
    return { id: f.id, name: utf8(f.name), twin: f.twinId, created: 0, updated: 0 };
  }

  /**
   * Registers the identity's twin as a node of `farm` (TFChain: one node per twin, signed by the
   * node's own account; no farm owner's grant).
   */
  async createNode(
    identity: TwinIdentity,
    farm: number,
    capacity: Capacity,
    location: Location,
  ): Promise<NodeRecord> {
    const account = accountOf(this.chain.polkadot, identity);
    const tx = this.api.tx.tfgridModule.createNode(
      farm,
      { hru: 0, sru: capacity.storage, cru: capacity.cpu, mru: capacity.memory },
      {
        city: location.city,
        country: location.country,
        latitude: String(location.latitude ?? 0),
        longitude: String(location.longitude ?? 0),
      },
      [],
      false,
      false,
      null,
    );
    const { events } = await this.chain.submit(tx, account);
    const stored = events.find((e: Dyn) => e.section === 'tfgridModule' && e.method === 'NodeStored');
    return this.node(stored.data[0].toJSON());
  }

  /**
   * A node's heartbeat on TFChain: `reportUptime(seconds since boot)`, signed by the node's twin;
   * resolves with the node id the chain recorded it for (its `NodeUptimeReported` event).
   */
  async reportUptime(identity: TwinIdentity, uptimeSeconds: number): Promise<number> {
    const account = accountOf(this.chain.polkadot, identity);
    const tx = this.api.tx.tfgridModule.reportUptime(Math.floor(uptimeSeconds));
    const { events } = await this.chain.submit(tx, account);
    const reported = events.find(
      (e: Dyn) => e.section === 'tfgridModule' && e.method === 'NodeUptimeReported',
    );
    if (!reported) throw new TfchainError('chain_refused', 'TFChain recorded no uptime for this node');
    return Number(reported.data[0].toString());
  }

  private contractRecord(c: Dyn): ContractRecord | null {
    const nc = c?.contractType?.nodeContract;
    if (!nc) return null;
    return {
      id: c.contractId,
      twin: c.twinId,
      node: nc.nodeId,
      deploymentHash: String(nc.deploymentHash).replace(/^0x/, ''),
      // TFChain has no acceptance: a contract is live from its creation until cancelled.
      state: 'active',
      created: 0,
      acceptBy: 0,
      updated: 0,
    };
  }

  /** A node contract by id; null when there is none (TFChain deletes cancelled contracts). */
  async contract(id: number): Promise<ContractRecord | null> {
    return this.contractRecord((await this.api.query.smartContractModule.contracts(id)).toJSON());
  }

  /** The live node contracts of a node, or of a twin (a scan), or both filters. */
  async contracts(filter: { node?: number; twin?: number }): Promise<ContractRecord[]> {
    let list: ContractRecord[];
    if (filter.node !== undefined) {
      const ids: number[] = (
        await this.api.query.smartContractModule.activeNodeContracts(filter.node)
      ).toJSON();
      list = (await Promise.all(ids.map((id) => this.contract(id)))).filter((c) => c !== null);
    } else {
      const entries = await this.api.query.smartContractModule.contracts.entries();
      list = entries.map(([, v]: Dyn) => this.contractRecord(v.toJSON())).filter(Boolean);
    }
    return list
      .filter((c) => filter.twin === undefined || c.twin === filter.twin)
      .sort((a, b) => a.id - b.id);
  }

  /** A node contract on `node` carrying the deployment's 32-byte hash (hex); its record. */
  async createContract(
    identity: TwinIdentity,
    node: number,
    deploymentHash: string,
    data = '',
  ): Promise<ContractRecord> {
    if (!/^[0-9a-f]{64}$/.test(deploymentHash))
      throw new TfchainError('chain_refused', 'a deployment hash is 64 lowercase hex characters');
    const account = accountOf(this.chain.polkadot, identity);
    const tx = this.api.tx.smartContractModule.createNodeContract(node, `0x${deploymentHash}`, data, 0, null);
    const { events } = await this.chain.submit(tx, account);
    const created = events.find(
      (e: Dyn) => e.section === 'smartContractModule' && e.method === 'ContractCreated',
    );
    return this.contractRecord(created.data[0].toJSON())!;
  }

  async updateContract(
    identity: TwinIdentity,
    id: number,
    deploymentHash: string,
    data = '',
  ): Promise<ContractRecord> {
    const account = accountOf(this.chain.polkadot, identity);
    const tx = this.api.tx.smartContractModule.updateNodeContract(id, `0x${deploymentHash}`, data);
    const { events } = await this.chain.submit(tx, account);
    const updated = events.find(
      (e: Dyn) => e.section === 'smartContractModule' && e.method === 'ContractUpdated',
    );
    return this.contractRecord(updated.data[0].toJSON())!;
  }

  async cancelContract(identity: TwinIdentity, id: number): Promise<void> {
    await this.chain.submit(
      this.api.tx.smartContractModule.cancelContract(id),
      accountOf(this.chain.polkadot, identity),
    );
  }

  /**
   * Calls `on` for each node-contract event in new blocks (of `node` only, when given), as the node
   * agent follows the ledger: created, updated, cancelled (→ remove the deployment). Returns the
   * function that stops following.
   */
  async followContracts(on: (e: ContractEvent) => void, node?: number): Promise<() => void> {
    const unsubscribe = await this.api.query.system.events((records: Dyn[]) => {
      for (const { event } of records) {
        if (event.section !== 'smartContractModule') continue;
        let e: ContractEvent | null = null;
        if (event.method === 'ContractCreated' || event.method === 'ContractUpdated') {
          const c = this.contractRecord(event.data[0].toJSON());
          if (c)
            e = {
              kind: event.method === 'ContractCreated' ? 'created' : 'updated',
              contract: c.id,
              node: c.node,
              twin: c.twin,
              deploymentHash: c.deploymentHash,
            };
        } else if (event.method === 'NodeContractCanceled') {
          const [contract, nodeId, twin] = event.data.map((d: Dyn) => Number(d.toString()));
          e = { kind: 'cancelled', contract, node: nodeId, twin };
        }
        if (e && (node === undefined || e.node === node)) on(e);
      }
    });
    return unsubscribe;
  }
}
