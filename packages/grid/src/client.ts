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
import { CONTRACT_ACCEPT_WITHIN_MS } from './limits.ts';
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
  /** Ledger writes of this client, one at a time (each takes the twin's next nonce). */
  private writes: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: GridClientOptions) {}

  private write<T>(f: () => Promise<T>): Promise<T> {
    const next = this.writes.then(f, f);
    this.writes = next.catch(() => {});
    return next;
  }

  /** The twin id of a node (its agent's identity on the bus). */
  async nodeTwin(node: number): Promise<number> {
    const n = (await this.o.phonebook.backend.nodes()).find((x) => x.id === node);
    if (!n) throw new GridError('not_found', `there is no node ${node}`);
    return n.twin;
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
    const { contract } = await this.write(() =>
      this.o.phonebook.submitAs(this.o.identity, (t, nonce, timestamp) => ({
        kind: 'contract.create',
        twin: t.id,
        nonce,
        timestamp,
        node: signed.node,
        deploymentHash: hash,
        acceptWithin,
      })),
    );
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
    await this.write(() =>
      this.o.phonebook.submitAs(this.o.identity, (t, nonce, timestamp) => ({
        kind: 'contract.update',
        twin: t.id,
        nonce,
        timestamp,
        contract,
        deploymentHash: deploymentHash(signed),
      })),
    );
    await this.send(COMMANDS.update, contract, signed);
  }

  async cancel(contract: number): Promise<void> {
    await this.write(() =>
      this.o.phonebook.submitAs(this.o.identity, (t, nonce, timestamp) => ({
        kind: 'contract.cancel',
        twin: t.id,
        nonce,
        timestamp,
        contract,
      })),
    );
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
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
