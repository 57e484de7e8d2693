/** The grid as storage convergence uses it: zdb namespaces deployed through a twin's GridClient. */
import type { GridClient } from '@twin/grid';
import { BotError } from './errors.ts';
import type { StorageGrid } from './storage.ts';

/** How long a namespace may take to be ready on its node. */
export const NAMESPACE_READY_MS = 60_000;

/**
 * Deploys each namespace as its own deployment (one contract per backend, so one lost node
 * cancels nothing else), waits for it to be ready, and answers HOST:PORT/NAMESPACE from the
 * node's first published address. A namespace that ends in error has its contract cancelled.
 */
export function gridStorage(grid: GridClient, twin: number): StorageGrid {
  return {
    async deployNamespace(node, spec) {
      const contract = await grid.deploy({
        version: 0,
        twin,
        node,
        metadata: `3bot: ${spec.name}`,
        workloads: [
          {
            name: 'namespace',
            type: 'zdb',
            version: 0,
            data: { size: spec.size, mode: spec.mode, password: spec.password, public: false },
          },
        ],
      });
      const info = await grid.wait(node, contract, NAMESPACE_READY_MS).catch(async (e: Error) => {
        await grid.cancel(contract).catch(() => {});
        throw e;
      });
      const r = info.results.namespace;
      const data = r?.data as { namespace?: string; addresses?: string[] } | undefined;
      if (r?.state !== 'ok' || !data?.namespace || !data.addresses?.length) {
        await grid.cancel(contract).catch(() => {});
        throw new BotError(
          'deploy_failed',
          `node ${node}: namespace not ready (${r?.state ?? 'no result'}: ${r?.message ?? ''})`,
        );
      }
      return { contract, address: `${data.addresses[0]}/${data.namespace}` };
    },
    cancel: (contract) => grid.cancel(contract),
  };
}
