/**
 * convergeStorage's decisions, with a grid that answers in memory (the real grid is exercised
 * end to end in packages/cli/test/bot-grid.test.ts): a refusing node is left out and the pass
 * plans again; contracts are cancelled only after a complete repair; the metadata key is kept.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildConfig } from '@twin/qss';
import {
  BotError,
  convergeStorage,
  emptyState,
  type NodeView,
  parseDesiredState,
  type StorageGrid,
} from '../src/index.ts';

const GiB = 1024 ** 3;
const nodes = (down: number[] = []): NodeView[] =>
  [1, 2, 3, 4, 5, 6].map((id) => ({
    id,
    farm: Math.ceil(id / 2),
    status: down.includes(id) ? 'down' : 'up',
    capacity: { cpu: 4, memory: 8 * GiB, storage: 100 * GiB },
    used: { cpu: 0, memory: 0, storage: 0 },
  }));
const desired = parseDesiredState({
  version: 1,
  qss: { dataShards: 2, parityShards: 1, groups: 3, sizePerBackend: '1 GiB', metaBackends: 1 },
});

function memoryGrid(refuse: number[] = []) {
  let next = 100;
  const live = new Set<number>();
  const cancelled: number[] = [];
  const grid: StorageGrid = {
    async deployNamespace(node, spec) {
      if (refuse.includes(node)) throw new Error(`node ${node} is over capacity`);
      const contract = next++;
      live.add(contract);
      return { contract, address: `10.0.0.${node}:9900/${spec.mode}-${contract}` };
    },
    async cancel(contract) {
      live.delete(contract);
      cancelled.push(contract);
    },
  };
  return { grid, live, cancelled };
}

test('a node that refuses is left out and the pass plans again; the result uses the others', async () => {
  const g = memoryGrid([1]);
  const state = emptyState();
  const r = await convergeStorage({
    desired,
    nodes: nodes(),
    state,
    grid: g.grid,
    save: () => {},
    repair: async () => ({ objects: 0, failed: 0 }),
  });
  const used = state.groups.flat().map((b) => b!.node);
  assert.ok(!used.includes(1));
  assert.equal(new Set(state.groups.flat().map((b) => b!.farm)).size, 3);
  assert.equal(r.deployed, 4);
  assert.ok(state.events.some((e) => e.kind === 'deploy_failed' && /node 1/.test(e.message)));
  // every node refusing: a clear error after a few plans, nothing left half-recorded
  const none = memoryGrid([1, 2, 3, 4, 5, 6]);
  await assert.rejects(
    convergeStorage({
      desired,
      nodes: nodes(),
      state: emptyState(),
      grid: none.grid,
      save: () => {},
      repair: async () => ({ objects: 0, failed: 0 }),
    }),
    (e: unknown) => e instanceof BotError && (e.code === 'deploy_failed' || e.code === 'not_enough_farms'),
  );
});

test('replaced backends are cancelled only after a complete repair, and the metadata key is kept', async () => {
  const g = memoryGrid();
  const state = emptyState();
  const saves: string[] = [];
  const save = (s: typeof state) => saves.push(JSON.stringify(s));
  const first = await convergeStorage({
    desired,
    nodes: nodes(),
    state,
    grid: g.grid,
    save,
    repair: async () => ({ objects: 0, failed: 0 }),
  });
  assert.ok(saves.length >= 4, 'the state is saved after every deployment');
  const lost = state.groups[0]![0]!;
  const config = {
    ...first.config,
    key: buildConfig({ k: 2, m: 1, groups: [['a:1/x'], ['b:1/x'], ['c:1/x']], meta: ['d:1/x'] }).key,
  };
  // the repair does not complete: the old contract stays, listed as superseded
  let repairs = 0;
  const partial = await convergeStorage({
    desired,
    nodes: nodes([lost.node]),
    state,
    config,
    grid: g.grid,
    save,
    repair: async () => {
      repairs++;
      return { objects: 3, failed: 1 };
    },
  });
  assert.equal(repairs, 1);
  assert.equal(partial.superseded, 1);
  assert.ok(g.live.has(lost.contract), 'not cancelled before the data is whole elsewhere');
  assert.deepEqual(Buffer.from(partial.config.key), Buffer.from(config.key));
  assert.notEqual(state.groups[0]![0]!.node, lost.node);
  // the next pass deploys nothing more, repairs again, and now cancels
  const done = await convergeStorage({
    desired,
    nodes: nodes([lost.node]),
    state,
    config: partial.config,
    grid: g.grid,
    save,
    repair: async () => ({ objects: 3, failed: 0 }),
  });
  assert.equal(done.deployed, 0);
  assert.equal(done.cancelled, 1);
  assert.deepEqual(g.cancelled, [lost.contract]);
  assert.equal(state.superseded.length, 0);
  assert.deepEqual(
    state.events.map((e) => e.kind).filter((k) => k !== 'deployed'),
    ['replaced', 'repair_incomplete', 'repaired', 'cancelled'],
  );
});
