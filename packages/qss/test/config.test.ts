import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildConfig,
  parseBackend,
  parseConfig,
  renderConfig,
  tolerableGroups,
  worstLoss,
} from '../src/config.ts';
import type { ZdbGroupConfig } from '../src/zdb-store.ts';

const KEY = 'ab'.repeat(32);
const groups3x2 = [
  ['10.0.0.1:9900/q', '10.0.0.2:9900/q'],
  ['10.0.1.1:9900/q', '10.0.1.2:9900/q'],
  ['10.0.2.1:9900/q', '10.0.2.2:9900/q'],
];
const text = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    dataShards: 4,
    parityShards: 2,
    key: KEY,
    groups: groups3x2.map((backends, i) => ({ name: `site-${i}`, backends })),
    meta: { backends: ['10.0.9.1:9900/meta', '10.0.9.2:9900/meta', '10.0.9.3:9900/meta'] },
    ...over,
  });

test('a config parses with defaults, and renders back to the same config', () => {
  const c = parseConfig(text({ tolerate: { groups: 1 }, password: 'pw', blockSize: '1MiB' }));
  assert.equal(c.k, 4);
  assert.equal(c.margin, 1);
  assert.equal(c.blockSize, 1 << 20);
  assert.equal(c.compression, 'auto');
  assert.deepEqual(c.tolerate, { groups: 1, backendsPerGroup: 0 });
  assert.equal(c.groups[1]!.backends[0]!.password, 'pw', 'the default password applies');
  assert.equal(c.repair.intervalSeconds, 600);
  assert.deepEqual(parseConfig(renderConfig(c)), c);
});

test('backends: host:port/ns, [v6]:port/ns, objects with a password; anything else is refused', () => {
  assert.deepEqual(parseBackend('[200:abcd::1]:9900/qss'), {
    host: '200:abcd::1',
    port: 9900,
    namespace: 'qss',
  });
  assert.deepEqual(parseBackend('node-1.farm:1/a_b-c.d'), {
    host: 'node-1.farm',
    port: 1,
    namespace: 'a_b-c.d',
  });
  for (const bad of [
    'host/ns',
    'host:0/ns',
    'host:70000/ns',
    'host:9900',
    'host:9900/',
    'a b:1/n',
    'h:1/n/x',
  ])
    assert.throws(() => parseBackend(bad), { code: 'bad_config' }, bad);
  const c = parseConfig(
    text({
      groups: [
        { backends: [{ address: '10.0.0.1:1/a', password: 'x' }, '10.0.0.2:1/a'] },
        { backends: ['10.0.0.3:1/a', '10.0.0.4:1/a'] },
        { backends: ['10.0.0.5:1/a', '10.0.0.6:1/a'] },
      ],
    }),
  );
  assert.equal(c.groups[0]!.name, 'group-1');
  assert.equal(c.groups[0]!.backends[0]!.password, 'x');
});

test('every mistake is a clear bad_config naming the field', () => {
  const cases: Array<[string, RegExp]> = [
    ['{', /not JSON/],
    ['[]', /JSON object/],
    [text({ dataShards: 0 }), /dataShards must be an integer from 1/],
    [text({ parityShards: -1 }), /parityShards/],
    [text({ key: 'abc' }), /key must be 64 hex digits/],
    [text({ groups: [] }), /groups must be a non-empty list/],
    [text({ groups: [{ backends: [] }] }), /groups\[0\]/],
    [text({ meta: {} }), /meta\.backends/],
    [text({ meta: { backends: ['10.0.9.1:9900/m'], quorum: 2 } }), /meta\.quorum/],
    [text({ compression: 'zstd' }), /compression/],
    [text({ margin: 3 }), /margin must be an integer from 0 to 2/],
    [text({ blockSize: '4 parsecs' }), /blockSize/],
    [text({ blockSize: 0 }), /blockSize/],
    [text({ colour: 'red' }), /unknown field "colour"/],
    [text({ version: 2 }), /unknown version/],
    [text({ tolerate: { groups: 2 } }), /can lose 4 shards of a block, more than parityShards \(2\)/],
    [text({ tolerate: { groups: 1, backendsPerGroup: 1 } }), /can lose 4 shards/],
    [text({ dataShards: 10 }), /needs 12 backends/],
    [
      text({
        groups: [
          { name: 'a', backends: ['10.0.0.1:1/a'] },
          { name: 'a', backends: ['10.0.0.2:1/a'] },
        ],
        dataShards: 1,
        parityShards: 1,
      }),
      /group "a" is listed twice/,
    ],
    [
      text({
        groups: [
          {
            backends: [
              '10.0.0.1:1/a',
              '10.0.0.1:1/a',
              '10.0.0.3:1/a',
              '10.0.0.4:1/a',
              '10.0.0.5:1/a',
              '10.0.0.6:1/a',
            ],
          },
        ],
      }),
      /listed twice/,
    ],
    [text({ meta: { backends: ['10.0.0.1:9900/q'] } }), /both a data and a metadata backend/],
  ];
  for (const [t, why] of cases)
    assert.throws(
      () => parseConfig(t),
      (e: Error & { code?: string }) => e.code === 'bad_config' && why.test(e.message),
      t,
    );
});

test('tolerance arithmetic: what losing groups and backends costs a block', () => {
  const g = (sizes: number[]): ZdbGroupConfig[] =>
    sizes.map((n, i) => ({
      name: `g${i}`,
      backends: Array.from({ length: n }, (_, j) => ({ host: `10.${i}.0.${j}`, port: 1, namespace: 'n' })),
    }));
  assert.equal(worstLoss(4, 2, g([2, 2, 2]), { groups: 1, backendsPerGroup: 0 }), 2);
  assert.equal(worstLoss(4, 2, g([2, 2, 2]), { groups: 0, backendsPerGroup: 1 }), 3);
  assert.equal(tolerableGroups(4, 2, g([2, 2, 2])), 1);
  assert.equal(tolerableGroups(4, 2, g([6])), 0);
  assert.equal(tolerableGroups(2, 4, g([2, 2, 2])), 2);
  assert.equal(tolerableGroups(16, 4, g([4, 4, 4, 4, 4])), 1);
  const built = buildConfig({ k: 4, m: 2, groups: groups3x2, meta: ['10.0.9.1:9900/m'] });
  assert.deepEqual(built.tolerate, { groups: 1, backendsPerGroup: 0 });
  assert.equal(built.key.length, 32);
  assert.notDeepEqual(
    buildConfig({ k: 4, m: 2, groups: groups3x2, meta: ['10.0.9.1:9900/m'] }).key,
    built.key,
  );
  assert.throws(
    () => buildConfig({ k: 4, m: 2, groups: [], meta: ['10.0.9.1:9900/m'] }),
    /at least one group/,
  );
});
