import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import type { EncodedBlock } from '../src/block.ts';
import { MemoryShardStore } from '../src/memory-store.ts';
import { checkObject, getObject, putObject, repairObject, type ShardDamage } from '../src/object.ts';
import { decodeStream, encodeStream } from '../src/pipeline.ts';
import { type BlockRunner, InlineRunner, WorkerPool } from '../src/runner.ts';
import { isAbsent, type ShardContext, type ShardLocation } from '../src/store.ts';

const pool = new WorkerPool(2);
after(() => pool.close());
const runners: Array<[string, BlockRunner]> = [
  ['inline', new InlineRunner()],
  ['workers', pool],
];

/** `bytes` served in chunks of awkward sizes, to cross block boundaries mid-chunk. */
function* chunks(bytes: Uint8Array): Generator<Uint8Array> {
  const sizes = [1, 7000, 65536, 3, 100_000];
  for (let pos = 0, i = 0; pos < bytes.length; i++) {
    const n = sizes[i % sizes.length]!;
    yield bytes.subarray(pos, pos + n);
    pos += n;
  }
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of it) parts.push(p);
  return Buffer.concat(parts);
}

const BLOCK = 64 << 10;
const sizes: Array<[string, number]> = [
  ['empty', 0],
  ['1 byte', 1],
  ['block - 1', BLOCK - 1],
  ['exactly one block', BLOCK],
  ['block + 1', BLOCK + 1],
  ['many blocks', 37 * BLOCK + 12_345],
];

for (const [name, runner] of runners)
  for (const [label, size] of sizes)
    test(`${name}: an object of ${label} round-trips through the store`, async () => {
      const data = randomBytes(size);
      // Half of every object compressible, so both block kinds occur.
      data.fill(0x61, 0, size >> 1);
      const store = new MemoryShardStore(6);
      const meta = await putObject(chunks(data), store, {
        k: 4,
        m: 2,
        blockSize: BLOCK,
        runner,
        parallelism: 3,
      });
      assert.equal(meta.size, size);
      assert.equal(meta.blocks.length, Math.ceil(size / BLOCK));
      assert.equal(store.shardCount, meta.blocks.length * 6);
      if (size > 2 * BLOCK) {
        assert.ok(meta.blocks.some((b) => b.compressed));
        assert.ok(meta.blocks.some((b) => !b.compressed));
      }
      const damage: ShardDamage[] = [];
      const back = await collect(getObject(meta, store, { runner, onDamage: (d) => damage.push(d) }));
      assert.ok(back.equals(data));
      assert.deepEqual(damage, []);
    });

test('a lost backend and a corrupted shard are read around and reported', async () => {
  const data = randomBytes(10 * BLOCK + 5);
  const store = new MemoryShardStore(6);
  const meta = await putObject([data], store, { k: 4, m: 2, blockSize: BLOCK });
  store.setOffline('memory:1', true);
  // Block 4 loses shard 3 with backend 1; shard 2 (on backend 0) is corrupted too: both parities are needed.
  const victim = meta.blocks[4]!.shards[2]!.location;
  store.raw(victim)![10]! ^= 0xff;
  const damage: ShardDamage[] = [];
  const back = await collect(getObject(meta, store, { runner: pool, onDamage: (d) => damage.push(d) }));
  assert.ok(back.equals(data));
  // Reports come as blocks finish, which with parallelism is not strictly in order.
  damage.sort((a, b) => a.block - b.block || a.shard - b.shard);
  const missing = damage.filter((d) => d.state === 'missing');
  // Backend 1 holds shard (1 - block) mod 6 of each block; only data shards are read first.
  assert.deepEqual(
    missing.map((d) => [d.block, d.shard]),
    meta.blocks.flatMap((_, b) => ((1 - b + 600) % 6 < 4 ? [[b, (1 - b + 600) % 6]] : [])),
  );
  assert.ok(missing.every((d) => d.location.backend === 'memory:1'));
  assert.deepEqual(
    damage.filter((d) => d.state === 'corrupt').map((d) => [d.block, d.shard]),
    [[4, 2]],
  );
});

test('more than m shards of a block gone: too_few_shards, not wrong bytes', async () => {
  const data = randomBytes(3 * BLOCK);
  const store = new MemoryShardStore(6);
  const meta = await putObject([data], store, { k: 4, m: 2, blockSize: BLOCK });
  for (const i of [0, 2, 5]) {
    const s = meta.blocks[1]!.shards[i]!;
    assert.equal(await store.deleteShard(s.location, s.checksum), true);
  }
  await assert.rejects(collect(getObject(meta, store)), { code: 'too_few_shards' });
});

test('a failing store fails the put and what was stored is deleted', async () => {
  const store = new MemoryShardStore(6);
  let calls = 0;
  const flaky = {
    putShards: (shards: readonly Uint8Array[], ctx: ShardContext) => {
      if (++calls === 4) return Promise.reject(new Error('backend went away'));
      return store.putShards(shards, ctx);
    },
    getShard: store.getShard.bind(store),
    deleteShard: store.deleteShard.bind(store),
  };
  await assert.rejects(
    putObject([randomBytes(8 * BLOCK)], flaky, { k: 4, m: 2, blockSize: BLOCK }),
    /went away/,
  );
  assert.equal(store.shardCount, 0);
});

test('encodeStream holds at most `parallelism` blocks however long the stream is', async () => {
  let produced = 0;
  function* endless(): Generator<Uint8Array> {
    for (let i = 0; i < 200; i++) {
      produced++;
      yield new Uint8Array(BLOCK).fill(i);
    }
  }
  let consumed = 0;
  let peak = 0;
  for await (const block of encodeStream(endless(), randomBytes(32), {
    k: 2,
    m: 1,
    blockSize: BLOCK,
    parallelism: 3,
  })) {
    consumed++;
    peak = Math.max(peak, produced - consumed);
    assert.equal(block.index, consumed - 1);
  }
  assert.equal(consumed, 200);
  assert.ok(peak <= 3, `${peak} blocks were held at once`);
});

test('decodeStream turns encoded blocks with lost shards back into the bytes, in order', async () => {
  const key = randomBytes(32);
  const data = randomBytes(5 * BLOCK + 99);
  const blocks: EncodedBlock[] = [];
  for await (const b of encodeStream(chunks(data), key, { k: 3, m: 2, blockSize: BLOCK, runner: pool }))
    blocks.push(b);
  const sets = blocks.map((b) => ({
    layout: b,
    shards: b.shards.map((s, i) => (i === b.index % 5 ? undefined : s)),
  }));
  const parts: Uint8Array[] = [];
  for await (const d of decodeStream(sets, key, { k: 3, m: 2, runner: pool, parallelism: 4 }))
    parts.push(d.plain);
  assert.ok(Buffer.concat(parts).equals(data));
});

test('worker errors carry their codes; bad options are refused', async () => {
  const store = new MemoryShardStore(6);
  const meta = await putObject([randomBytes(1000)], store, { k: 4, m: 2, runner: pool });
  await assert.rejects(collect(getObject({ ...meta, key: randomBytes(32) }, store, { runner: pool })), {
    code: 'decrypt_failed',
  });
  assert.throws(() => encodeStream([], randomBytes(32), { k: 4, m: 2, blockSize: 0 }), {
    code: 'bad_coding',
  });
  // 4 backends cannot take k + margin = 5 shards: refused, and nothing is left behind
  const small = new MemoryShardStore(4);
  await assert.rejects(putObject([randomBytes(10)], small, { k: 4, m: 2 }), {
    code: 'store_failed',
    message: /only 4 of 6 shards could be stored, 5 needed/,
  });
  assert.equal(small.shardCount, 0);
  await assert.rejects(putObject([], new MemoryShardStore(5), { k: 0, m: 2 }), { code: 'bad_coding' });
  const closed = new WorkerPool(1);
  await closed.close();
  await assert.rejects(closed.encode(2, 1, new Uint8Array(10), 0, randomBytes(32), 'none'), /closed/);
});

test('the worker pool copies views and transfers only buffers handed over whole', async () => {
  const key = randomBytes(32);
  const big = new Uint8Array(1 << 20).fill(7);
  const view = big.subarray(100, 200_100);
  const block = await pool.encode(2, 1, view, 0, key, 'none');
  assert.equal(big.buffer.byteLength, 1 << 20, 'the caller keeps the buffer a view points into');
  assert.ok(Buffer.from((await pool.decode(2, 1, block, block.shards, key)).plain).equals(Buffer.from(view)));
  const whole = new Uint8Array(100_000).fill(9);
  await pool.encode(2, 1, whole, 1, key, 'none');
  assert.equal(whole.buffer.byteLength, 0, 'a whole buffer is transferred, not copied');
});

test('a degraded write: with k + margin shards stored the object is accepted, absent shards recorded, and it reads back', async () => {
  const store = new MemoryShardStore(5);
  const data = randomBytes(3 * BLOCK + 17);
  const meta = await putObject([data], store, { k: 4, m: 2, blockSize: BLOCK });
  for (const b of meta.blocks) assert.equal(b.shards.filter((s) => isAbsent(s.location)).length, 1);
  assert.equal(store.shardCount, 5 * meta.blocks.length);
  const damage: ShardDamage[] = [];
  assert.ok((await collect(getObject(meta, store, { onDamage: (d) => damage.push(d) }))).equals(data));
  // with margin 2 the same write is refused
  await assert.rejects(
    putObject([data], new MemoryShardStore(5), { k: 4, m: 2, margin: 2, blockSize: BLOCK }),
    {
      code: 'store_failed',
    },
  );
  // an absent shard plus one more lost backend: still k shards per block
  const check = await checkObject(meta, store);
  assert.equal(check.damaged.length, meta.blocks.length);
  assert.ok(check.damaged.every((d) => d.state === 'absent'));
  const repaired = await repairObject(meta, store, check.damaged);
  assert.equal(repaired.rebuilt, 0, 'no sixth backend: nothing can be placed');
  assert.equal(repaired.remaining, meta.blocks.length);
});

test('repair completes a degraded write once a backend is back, and re-codes corrupt shards', async () => {
  const store = new MemoryShardStore(6);
  store.setOffline('memory:2', true);
  const data = randomBytes(4 * BLOCK);
  const meta = await putObject([data], store, { k: 4, m: 2, blockSize: BLOCK });
  store.setOffline('memory:2', false);
  // and damage one stored shard of block 0
  const victim = meta.blocks[0]!.shards.find((s) => !isAbsent(s.location))!;
  store.raw(victim.location)![10]! ^= 1;
  const check = await checkObject(meta, store);
  assert.equal(check.damaged.filter((d) => d.state === 'corrupt').length, 1);
  assert.equal(check.damaged.filter((d) => d.state === 'absent').length, meta.blocks.length);
  const repaired = await repairObject(meta, store, check.damaged);
  assert.equal(repaired.rebuilt, meta.blocks.length + 1);
  assert.equal(repaired.remaining, 0);
  assert.deepEqual(
    repaired.replaced.map((s) => s.location),
    [victim.location],
  );
  const after = await checkObject(repaired.meta, store);
  assert.deepEqual(after.damaged, []);
  for (const b of repaired.meta.blocks)
    assert.equal(new Set(b.shards.map((s) => s.location.backend)).size, 6);
  // with every shard back, any two backends may go
  store.setOffline('memory:0', true);
  store.setOffline('memory:3', true);
  assert.ok((await collect(getObject(repaired.meta, store))).equals(data));
});

test('reads hedge: a backend that answers late is read around with parity shards', async () => {
  const store = new MemoryShardStore(6);
  const data = randomBytes(4 * BLOCK);
  const meta = await putObject([data], store, { k: 4, m: 2, blockSize: BLOCK });
  const slow = {
    putShards: store.putShards.bind(store),
    deleteShard: store.deleteShard.bind(store),
    getShard: async (l: ShardLocation) => {
      if (l.backend === 'memory:1') await new Promise((r) => setTimeout(r, 3000));
      return store.getShard(l);
    },
  };
  const started = performance.now();
  assert.ok((await collect(getObject(meta, slow, { hedgeMs: 30 }))).equals(data));
  const ms = performance.now() - started;
  assert.ok(ms < 1500, `took ${ms.toFixed(0)} ms: the slow backend was waited for`);
});
