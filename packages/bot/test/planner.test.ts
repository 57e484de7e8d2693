import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BotError, type NodeView, parseDesiredState, plan, shardsPerGroup } from '../src/index.ts';

const GiB = 1024 ** 3;

/** `perFarm[f]` nodes in farm f + 1, ids numbered from 1; 100 GiB disk, 8 cpu, 16 GiB each. */
function grid(perFarm: number[], over: Partial<Record<number, Partial<NodeView>>> = {}): NodeView[] {
  const out: NodeView[] = [];
  let id = 1;
  perFarm.forEach((count, f) => {
    for (let i = 0; i < count; i++, id++)
      out.push({
        id,
        farm: f + 1,
        status: 'up',
        capacity: { cpu: 8, memory: 16 * GiB, storage: 100 * GiB },
        used: { cpu: 0, memory: 0, storage: 0 },
        ...over[id],
      });
  });
  return out;
}

const desired = parseDesiredState({
  version: 1,
  qss: { dataShards: 4, parityShards: 2, groups: 3, sizePerBackend: '10 GiB' },
  twin: { on: 'grid', constraints: { cpu: 1, memory: '1 GiB' } },
});

const farmsOf = (p: ReturnType<typeof plan>) => p.groups.map((g) => new Set(g.backends.map((b) => b.farm)));

test('desired state: sizes and durations as people write them, defaults filled in', () => {
  const d = parseDesiredState(
    JSON.stringify({
      version: 1,
      qss: { dataShards: 4, parityShards: 2, groups: 3, sizePerBackend: '1.5 GiB' },
      backups: { interval: '1h' },
    }),
  );
  assert.equal(d.qss!.sizePerBackend, 1.5 * GiB);
  assert.equal(d.qss!.metaBackends, 3);
  assert.equal(d.backups!.interval, 3_600_000);
  assert.deepEqual(shardsPerGroup({ dataShards: 4, parityShards: 2, groups: 3 }), [2, 2, 2]);
  assert.deepEqual(shardsPerGroup({ dataShards: 5, parityShards: 3, groups: 3 }), [3, 3, 2]);
});

test('desired state: bad files are refused with the field and the rule', () => {
  const bad = (v: unknown, message: RegExp) =>
    assert.throws(
      () => parseDesiredState(v),
      (e: unknown) => e instanceof BotError && e.code === 'bad_desired_state' && message.test(e.message),
    );
  bad('{not json', /not JSON/);
  bad({ version: 2 }, /version/);
  bad(
    { version: 1, qss: { dataShards: 4, parityShards: 2, groups: 3, sizePerBackend: 'ten' } },
    /qss\.sizePerBackend/,
  );
  bad(
    { version: 1, qss: { dataShards: 4, parityShards: 2, groups: 3, sizePerBackend: '1 GiB', extra: 1 } },
    /extra|Unrecognized/,
  );
  // 4+2 over 2 farms: 3 shards per farm, more than the 2 parity shards
  bad(
    { version: 1, qss: { dataShards: 4, parityShards: 2, groups: 2, sizePerBackend: '1 GiB' } },
    /losing that farm would lose data/,
  );
  bad(
    { version: 1, qss: { dataShards: 1, parityShards: 1, groups: 3, sizePerBackend: '1 GiB' } },
    /cannot fill 3 groups/,
  );
  bad({ version: 1, backups: { interval: '5s' } }, /at least 1m/);
});

test('every group on its own farm, distinct nodes, the twin host kept out of its storage', () => {
  const nodes = grid([3, 2, 2]);
  const p = plan(desired, nodes);
  assert.ok(p.twin);
  const farms = farmsOf(p);
  assert.ok(
    farms.every((s) => s.size === 1),
    'a group stays in one farm',
  );
  assert.equal(new Set(farms.map((s) => [...s][0])).size, 3, 'three distinct farms');
  for (const g of p.groups)
    assert.equal(new Set(g.backends.map((b) => b.node)).size, g.backends.length, 'distinct nodes');
  const storage = p.groups.flatMap((g) => g.backends.map((b) => b.node));
  assert.ok(!storage.includes(p.twin.node), 'the twin host holds none of its storage');
  assert.equal(p.meta.length, 3);
  assert.equal(new Set(p.meta.map((m) => m.farm)).size, 3, 'metadata spread over the farms');
  // every node explains itself
  for (const n of p.nodes) assert.ok(n.chosen.length + n.notes.length > 0, `node ${n.node} has a reason`);
});

test('the same inputs give the same plan, whatever the order of the nodes', () => {
  const nodes = grid([2, 2, 2, 1], { 3: { used: { cpu: 0, memory: 0, storage: 50 * GiB } } });
  const a = plan(desired, nodes);
  const b = plan(desired, [...nodes].reverse());
  assert.deepEqual(a, b);
});

test('nodes that are not up, or full, take nothing; the reasons say so', () => {
  const nodes = grid([2, 2, 2, 2], {
    1: { status: 'down' },
    3: { status: 'suspect' },
    5: { used: { cpu: 0, memory: 0, storage: 95 * GiB } },
  });
  const p = plan(desired, nodes);
  const used = new Set([
    ...p.groups.flatMap((g) => g.backends.map((b) => b.node)),
    ...p.meta.map((m) => m.node),
    p.twin!.node,
  ]);
  for (const id of [1, 3]) assert.ok(!used.has(id));
  assert.ok(!p.groups.some((g) => g.backends.some((b) => b.node === 5)), 'a full node holds no data backend');
  assert.match(p.nodes.find((n) => n.node === 1)!.notes.join(), /down/);
  assert.match(p.nodes.find((n) => n.node === 3)!.notes.join(), /suspect/);
});

test('too few farms: a clear error naming what is missing', () => {
  assert.throws(
    () => plan(desired, grid([3, 3])),
    (e: unknown) => e instanceof BotError && e.code === 'not_enough_farms' && /needs 3 farms/.test(e.message),
  );
  assert.throws(
    () =>
      plan(desired, grid([1, 1, 1], { 1: { status: 'down' }, 2: { status: 'down' }, 3: { status: 'down' } })),
    (e: unknown) => e instanceof BotError && e.code === 'no_capacity',
  );
});

test('sticky: what runs on up nodes stays; only what was on a lost node moves, within its farm when it can', () => {
  const nodes = grid([3, 3, 3]);
  const first = plan(desired, nodes);
  const current = {
    twin: first.twin!.node,
    groups: first.groups.map((g) => g.backends.map((b) => b.node)),
    meta: first.meta.map((m) => m.node),
  };
  const victim = current.groups[1]![0]!;
  const again = plan(
    desired,
    nodes.map((n) => (n.id === victim ? { ...n, status: 'down' as const } : n)),
    current,
  );
  assert.equal(again.twin!.node, current.twin);
  assert.ok(again.twin!.kept);
  assert.deepEqual(
    again.groups[0]!.backends.map((b) => b.node),
    current.groups[0],
  );
  const moved = again.groups[1]!.backends[0]!;
  assert.notEqual(moved.node, victim);
  assert.equal(moved.farm, first.groups[1]!.farm, 'the replacement stays in the group farm');
  assert.ok(!moved.kept);
  assert.match(moved.reason, new RegExp(`replaces node ${victim}`));
  assert.ok(again.groups[1]!.backends[1]!.kept);
});

test('a group whose farm has no room left moves to a farm no other group uses', () => {
  // farm 2 has a single node; when it dies, group 2 must go to farm 4 (never farm 1 or 3)
  const nodes = grid([2, 1, 2, 2]);
  const d = parseDesiredState({
    version: 1,
    qss: { dataShards: 2, parityShards: 1, groups: 3, sizePerBackend: '10 GiB', metaBackends: 1 },
  });
  const current = { groups: [[1], [3], [4]] };
  const p = plan(
    d,
    nodes.map((n) => (n.id === 3 ? { ...n, status: 'down' as const } : n)),
    current,
  );
  assert.deepEqual(p.groups.map((g) => g.backends[0]!.node).slice(0, 1), [1]);
  assert.equal(p.groups[1]!.farm, 4);
  assert.equal(p.groups[2]!.backends[0]!.node, 4);
});

test('a suspect node keeps what it runs (a blip moves nothing); only a down node loses it', () => {
  const nodes = grid([3, 3, 3]);
  const first = plan(desired, nodes);
  const current = {
    twin: first.twin!.node,
    groups: first.groups.map((g) => g.backends.map((b) => b.node)),
    meta: first.meta.map((m) => m.node),
  };
  const holder = current.groups[0]![0]!;
  const suspect = plan(
    desired,
    nodes.map((n) => (n.id === holder ? { ...n, status: 'suspect' as const } : n)),
    current,
  );
  assert.equal(suspect.groups[0]!.backends[0]!.node, holder);
  assert.ok(suspect.groups[0]!.backends[0]!.kept);
  assert.match(suspect.nodes.find((n) => n.node === holder)!.notes.join(), /keeps what it has/);
  const down = plan(
    desired,
    nodes.map((n) => (n.id === holder ? { ...n, status: 'down' as const } : n)),
    current,
  );
  assert.notEqual(down.groups[0]!.backends[0]!.node, holder);
});
