/**
 * The deploying twin's side: sign a deployment, record its contract, send it to the node over
 * the bus, and follow its workloads. When the node cannot be reached or refuses, the client
 * cancels the contract it just made; and should the client itself die in between, the contract
 * expires by itself (the ledger's acceptance deadline): no stale contracts either way.
 */
import type { TwinIdentity } from '@twin/identity';
import type { TwinBus } from '@twin/network';
import type { PhonebookClient } from '@twin/phonebook';
import {
  type Deployment,
  deploymentHash,
  encodeDeployment,
  signDeployment,
  type UnsignedDeployment,
} from './deployment.ts';
import { GridError, type GridErrorCode } from './errors.ts';
import { CONTRACT_ACCEPT_WITHIN_MS, NODE_TWIN_CACHE_MS, WAIT_POLL_MS } from './limits.ts';
import { type Answer, COMMANDS, type DeploymentInfo, type NodeStatistics } from './protocol.ts';

export interface GridClientOptions {
  identity: TwinIdentity;
  /** The deploying twin's id. */
  twin: number;
  bus: TwinBus;
  phonebook: PhonebookClient;
  /** Bus request timeout (ms). */
  timeoutMs?: number;
}

export class GridClient {
  /** Node → its agent's twin, as last read from the phonebook, and until when it is trusted. */
  private nodeTwins = new Map<number, number>();
  private nodeTwinsUntil = 0;

  constructor(private readonly o: GridClientOptions) {}

  /**
   * The twin id of a node (its agent's identity on the bus), from the node list read at most every
   * NODE_TWIN_CACHE_MS (a node not in it is looked up again at once). Throws GridError `not_found`.
   */
  async nodeTwin(node: number): Promise<number> {
    if (Date.now() >= this.nodeTwinsUntil || !this.nodeTwins.has(node)) {
      const nodes = await this.o.phonebook.backend.nodes();
      this.nodeTwins = new Map(nodes.map((n) => [n.id, n.twin]));
      this.nodeTwinsUntil = Date.now() + NODE_TWIN_CACHE_MS;
    }
    const twin = this.nodeTwins.get(node);
    if (twin === undefined) throw new GridError('not_found', `there is no node ${node}`);
    return twin;
  }

  async call<T>(node: number, command: string, payload: unknown): Promise<T> {
    const twin = await this.nodeTwin(node);
    const reply = await this.o.bus.request(twin, command, Buffer.from(JSON.stringify(payload)), {
      timeoutMs: this.o.timeoutMs ?? 15_000,
    });
    const answer = JSON.parse(reply.toString('utf8')) as Answer<T>;
    if (!answer.ok) throw new GridError(answer.code as GridErrorCode, answer.message);
    return answer.value;
  }

  /** Signs `d` as this twin (adding to signatures already there). */
  sign(d: UnsignedDeployment): Deployment {
    return signDeployment(d, this.o.identity, this.o.twin);
  }

  /**
   * Creates the contract and sends the deployment (signed by this twin unless it already
   * carries signatures). Returns the contract id. On refusal or an unreachable node, the contract
   * is cancelled before the error is rethrown.
   */
  async deploy(
    d: UnsignedDeployment | Deployment,
    acceptWithin = CONTRACT_ACCEPT_WITHIN_MS,
  ): Promise<number> {
    const signed = d.signatures?.length ? (d as Deployment) : this.sign(d);
    const hash = deploymentHash(signed);
    const { contract } = await this.o.phonebook.submitAs(this.o.identity, (t, nonce, timestamp) => ({
      kind: 'contract.create',
      twin: t.id,
      nonce,
      timestamp,
      node: signed.node,
      deploymentHash: hash,
      acceptWithin,
    }));
    try {
      await this.send(COMMANDS.deploy, contract!, signed);
    } catch (e) {
      await this.cancel(contract!).catch(() => {});
      throw e;
    }
    return contract!;
  }

  /** Sends a deployment for an existing contract (no contract change). */
  async send(command: string, contract: number, d: Deployment): Promise<void> {
    await this.call(d.node, command, { contract, deployment: encodeDeployment(d).toString('base64') });
  }

  /** Updates a deployment: the contract's hash first, then the node. */
  async update(contract: number, d: UnsignedDeployment | Deployment): Promise<void> {
    const signed = d.signatures?.length ? (d as Deployment) : this.sign(d);
    await this.o.phonebook.submitAs(this.o.identity, (t, nonce, timestamp) => ({
      kind: 'contract.update',
      twin: t.id,
      nonce,
      timestamp,
      contract,
      deploymentHash: deploymentHash(signed),
    }));
    await this.send(COMMANDS.update, contract, signed);
  }

  async cancel(contract: number): Promise<void> {
    await this.o.phonebook.submitAs(this.o.identity, (t, nonce, timestamp) => ({
      kind: 'contract.cancel',
      twin: t.id,
      nonce,
      timestamp,
      contract,
    }));
  }

  get(node: number, contract: number): Promise<DeploymentInfo> {
    return this.call(node, COMMANDS.get, { contract });
  }

  list(node: number): Promise<DeploymentInfo[]> {
    return this.call(node, COMMANDS.list, {});
  }

  changes(node: number, contract: number): Promise<unknown[]> {
    return this.call(node, COMMANDS.changes, { contract });
  }

  async logs(node: number, contract: number, workload: string): Promise<string> {
    return (await this.call<{ logs: string }>(node, COMMANDS.logs, { contract, workload })).logs;
  }

  statistics(node: number): Promise<NodeStatistics> {
    return this.call(node, COMMANDS.statistics, {});
  }

  /**
   * Polls the deployment until every workload is ok or one is in error (or `timeoutMs` passes);
   * `onChange` sees each new view.
   */
  async wait(
    node: number,
    contract: number,
    timeoutMs = 60_000,
    onChange?: (d: DeploymentInfo) => void,
  ): Promise<DeploymentInfo> {
    const until = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const d = await this.get(node, contract);
      const view = JSON.stringify(Object.entries(d.results).map(([n, r]) => [n, r.state, r.message]));
      if (view !== last) {
        last = view;
        onChange?.(d);
      }
      const states = Object.values(d.results).map((r) => r.state);
      if (states.every((s) => s === 'ok') || states.includes('error') || d.state === 'deleted') return d;
      if (Date.now() > until)
        throw new GridError('unavailable', `contract ${contract}: workloads not ok after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
    }
  }
}
