import assert from 'node:assert/strict';
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  compactNamespace,
  type Engine,
  type EngineOptions,
  type HookEvent,
  openEngine,
} from '../src/engine/index.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function options(extra: Partial<EngineOptions> = {}): EngineOptions {
  const root = mkdtempSync(join(tmpdir(), 'zdb-engine-'));
  dirs.push(root);
  return {
    dataDir: join(root, 'data'),
    indexDir: join(root, 'index'),
    mode: 'user',
    datasize: 256 << 20,
    maxsize: 0,
    ...extra,
  };
}

const b = (s: string) => Buffer.from(s);

function reopen(e: Engine, o: EngineOptions): Engine {
  e.close();
  return openEngine(o);
}

describe('engine: user mode', () => {
  test('set, get, exists, info, del, identical overwrite', () => {
    const o = options();
    const e = openEngine(o);
    const ns = e.namespace('default')!;
    assert.deepEqual(ns.set(b('k1'), b('v1')), b('k1'));
    assert.deepEqual(ns.get(b('k1')), b('v1'));
    assert.equal(ns.set(b('k1'), b('v1')), null, 'identical payload writes nothing');
    assert.deepEqual(ns.set(b('k1'), b('v2')), b('k1'));
    assert.deepEqual(ns.get(b('k1')), b('v2'));
    assert.equal(ns.exists(b('k1')), true);
    assert.equal(ns.info(b('k1'))!.size, 2);
    ns.del(b('k1'));
    assert.equal(ns.get(b('k1')), null);
    assert.equal(ns.exists(b('k1')), false);
    assert.throws(() => ns.del(b('k1')), { code: 'key_not_found' });
    assert.deepEqual(ns.set(b('x'.repeat(255)), b('ok')), b('x'.repeat(255)));
    assert.throws(() => ns.set(b('x'.repeat(256)), b('no')), { code: 'invalid_key' });
    assert.throws(() => ns.set(b(''), b('no')), { code: 'invalid_key' });
    e.close();
  });

  test('restart replays every write, staged or committed, and deletes', () => {
    const o = options();
    let e = openEngine(o);
    const ns = e.namespace('default')!;
    for (let i = 0; i < 1000; i++) ns.set(b(`key-${i}`), b(`value-${i}`));
    e.commit();
    for (let i = 0; i < 1000; i += 2) ns.del(b(`key-${i}`));
    ns.set(b('key-1'), b('changed'));
    e = reopen(e, o);
    const n2 = e.namespace('default')!;
    assert.equal(n2.stats().entries, 500);
    assert.equal(n2.get(b('key-0')), null);
    assert.deepEqual(n2.get(b('key-1')), b('changed'));
    assert.deepEqual(n2.get(b('key-999')), b('value-999'));
    e.close();
  });

  test('a large batch staged before one commit reopens cleanly, with no repair', () => {
    const o = options();
    let e = openEngine(o);
    const ns = e.namespace('default')!;
    // far more than the 64 KiB initial staging buffers of data and index
    for (let i = 0; i < 20_000; i++) ns.set(b(`batch-key-${i}`), b(`v${i}`));
    e.close();
    const repairs: string[] = [];
    e = openEngine({ ...o, onRecovery: (_ns, m) => repairs.push(m) });
    assert.deepEqual(repairs, []);
    assert.equal(e.namespace('default')!.stats().entries, 20_000);
    assert.deepEqual(e.namespace('default')!.get(b('batch-key-19999')), b('v19999'));
    e.close();
  });

  test('a deleted index is rebuilt from the data files with identical contents', () => {
    const o = options({ datasize: 4096 });
    let e = openEngine(o);
    const ns = e.namespace('default')!;
    for (let i = 0; i < 300; i++) ns.set(b(`k${i}`), b(`v${i}`.repeat(5)));
    for (let i = 0; i < 300; i += 3) ns.del(b(`k${i}`));
    const before = ns.scan(null, 10_000, false).entries.map((x) => x.key.toString());
    e.close();
    const indexDir = join(o.indexDir, 'default');
    const files = readdirSync(indexDir).filter((f) => f.startsWith('zdb-index-'));
    assert.ok(files.length > 1, 'rotation produced several index files');
    for (const f of files) unlinkSync(join(indexDir, f));
    const repairs: string[] = [];
    e = openEngine({ ...o, onRecovery: (_ns, m) => repairs.push(m) });
    const n2 = e.namespace('default')!;
    assert.ok(repairs.some((r) => r.includes('rebuilt')));
    assert.deepEqual(
      n2.scan(null, 10_000, false).entries.map((x) => x.key.toString()),
      before,
    );
    for (let i = 1; i < 300; i += 3) assert.deepEqual(n2.get(b(`k${i}`)), b(`v${i}`.repeat(5)));
    e.close();
  });

  test('a torn data tail is truncated; every earlier entry survives', () => {
    const o = options();
    let e = openEngine(o);
    const ns = e.namespace('default')!;
    for (let i = 0; i < 50; i++) ns.set(b(`k${i}`), b(`v${i}`));
    e.close();
    const data = join(o.dataDir, 'default', 'zdb-data-00000');
    const size = statSync(data).size;
    // half an entry, then garbage
    appendFileSync(data, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]));
    const idx = join(o.indexDir, 'default', 'zdb-index-00000');
    appendFileSync(idx, Buffer.from([9, 9, 9]));
    e = openEngine(o);
    assert.equal(statSync(data).size, size);
    const n2 = e.namespace('default')!;
    assert.equal(n2.stats().entries, 50);
    for (let i = 0; i < 50; i++) assert.deepEqual(n2.get(b(`k${i}`)), b(`v${i}`));
    n2.set(b('after'), b('crash'));
    e = reopen(e, o);
    assert.deepEqual(e.namespace('default')!.get(b('after')), b('crash'));
    e.close();
  });

  test('a flipped payload byte: check() false, get() throws data_corrupted, other keys fine', () => {
    const o = options();
    let e = openEngine(o);
    const ns = e.namespace('default')!;
    ns.set(b('good'), b('good-value'));
    ns.set(b('bad'), b('PAYLOAD-TO-CORRUPT'));
    ns.set(b('tail'), b('tail-value'));
    e.close();
    const data = join(o.dataDir, 'default', 'zdb-data-00000');
    const bytes = readFileSync(data);
    const at = bytes.indexOf('PAYLOAD-TO-CORRUPT');
    bytes[at + 3] = bytes[at + 3]! ^ 0x01;
    writeFileSync(data, bytes);
    e = openEngine(o);
    const n2 = e.namespace('default')!;
    assert.equal(n2.check(b('bad')), false);
    assert.throws(() => n2.get(b('bad')), { code: 'data_corrupted' });
    assert.equal(n2.check(b('good')), true);
    assert.deepEqual(n2.get(b('tail')), b('tail-value'));
    assert.equal(n2.check(b('missing')), null);
    e.close();
  });

  test('maxsize is byte-exact', () => {
    const o = options();
    const e = openEngine(o);
    const ns = e.create('limited', { maxsize: 10 });
    ns.set(b('a'), Buffer.alloc(6));
    assert.throws(() => ns.set(b('b'), Buffer.alloc(5)), { code: 'no_space_left' });
    ns.set(b('b'), Buffer.alloc(4));
    assert.throws(() => ns.set(b('a'), Buffer.alloc(7, 1)), { code: 'no_space_left' });
    ns.set(b('a'), Buffer.alloc(2, 1));
    ns.set(b('c'), Buffer.alloc(4));
    ns.del(b('c'));
    ns.set(b('d'), Buffer.alloc(4));
    assert.equal(ns.stats().dataSizeBytes, 10);
    e.close();
  });
});

describe('engine: seq mode, scan, history, rotation, compaction', () => {
  test('seq mode returns 8-byte little-endian ids and only updates existing ids', () => {
    const o = options({ mode: 'seq' });
    let e = openEngine(o);
    const ns = e.namespace('default')!;
    const id0 = ns.set(Buffer.alloc(0), b('zero'))!;
    const id1 = ns.set(Buffer.alloc(0), b('one'))!;
    assert.equal(id0.length, 8);
    assert.equal(id0.readBigUInt64LE(0), 0n);
    assert.equal(id1.readBigUInt64LE(0), 1n);
    assert.deepEqual(ns.set(id0, b('zero-updated')), id0);
    const unknown = Buffer.alloc(8);
    unknown.writeBigUInt64LE(7n);
    assert.throws(() => ns.set(unknown, b('x')), { code: 'invalid_key' });
    e = reopen(e, o);
    const id2 = e.namespace('default')!.set(Buffer.alloc(0), b('two'))!;
    assert.equal(id2.readBigUInt64LE(0), 2n);
    assert.deepEqual(e.namespace('default')!.get(id0), b('zero-updated'));
    e.close();
  });

  test('scan forward and backward with cursors, across pages and later writes', () => {
    const e = openEngine(options());
    const ns = e.namespace('default')!;
    for (let i = 0; i < 10; i++) ns.set(b(`k${i}`), b(`${i}`));
    ns.set(b('k3'), b('moved to the end'));
    ns.del(b('k5'));
    const page1 = ns.scan(null, 4, false);
    assert.deepEqual(
      page1.entries.map((x) => x.key.toString()),
      ['k0', 'k1', 'k2', 'k4'],
    );
    ns.set(b('k10'), b('new'));
    const page2 = ns.scan(page1.cursor, 100, false);
    assert.deepEqual(
      page2.entries.map((x) => x.key.toString()),
      ['k6', 'k7', 'k8', 'k9', 'k3', 'k10'],
    );
    assert.equal(ns.scan(page2.cursor, 100, false).entries.length, 0);
    const back = ns.scan(null, 3, true);
    assert.deepEqual(
      back.entries.map((x) => x.key.toString()),
      ['k10', 'k3', 'k9'],
    );
    assert.deepEqual(
      ns.scan(back.cursor, 2, true).entries.map((x) => x.key.toString()),
      ['k8', 'k7'],
    );
    const cur = ns.cursorOf(b('k8'))!;
    assert.deepEqual(
      ns.scan(cur, 1, false).entries.map((x) => x.key.toString()),
      ['k9'],
    );
    e.close();
  });

  test('history walks back through previous versions', () => {
    const e = openEngine(options());
    const ns = e.namespace('default')!;
    ns.set(b('h'), b('v1'));
    ns.set(b('h'), b('v2'));
    ns.set(b('h'), b('v3'));
    const h3 = ns.history(b('h'), null)!;
    assert.deepEqual(h3.payload, b('v3'));
    const h2 = ns.history(b('h'), h3.previous)!;
    assert.deepEqual(h2.payload, b('v2'));
    const h1 = ns.history(b('h'), h2.previous)!;
    assert.deepEqual(h1.payload, b('v1'));
    assert.equal(h1.previous, null);
    assert.throws(() => ns.history(b('other'), h3.previous), { code: 'invalid_cursor' });
    e.close();
  });

  test('data files rotate at datasize and fire jump hooks', () => {
    const events: HookEvent[] = [];
    const o = options({ datasize: 2048, onHook: (ev) => events.push(ev) });
    let e = openEngine(o);
    const ns = e.namespace('default')!;
    for (let i = 0; i < 100; i++) ns.set(b(`key${i}`), Buffer.alloc(100, i));
    assert.ok(ns.stats().dataFileId >= 4);
    assert.ok(events.includes('jump-data') && events.includes('jump-index'));
    e = reopen(e, o);
    for (let i = 0; i < 100; i++)
      assert.deepEqual(e.namespace('default')!.get(b(`key${i}`)), Buffer.alloc(100, i));
    e.close();
  });

  test('namespaces: create, props persist, flush, remove', () => {
    const o = options();
    let e = openEngine(o);
    const ns = e.create('alpha', { password: 'pw', public: false });
    ns.set(b('a'), b('1'));
    ns.setProps({ maxsize: 1000 });
    assert.throws(() => e.create('alpha'), { code: 'namespace_exists' });
    assert.throws(() => e.create('../evil'), { code: 'invalid_namespace_name' });
    e = reopen(e, o);
    const a = e.namespace('alpha')!;
    assert.equal(a.props.password, 'pw');
    assert.equal(a.props.maxsize, 1000);
    assert.deepEqual(a.get(b('a')), b('1'));
    a.flush();
    assert.equal(a.stats().entries, 0);
    e.remove('alpha');
    assert.deepEqual(e.list(), ['default']);
    e = reopen(e, o);
    assert.deepEqual(e.list(), ['default']);
    e.close();
  });

  test('compaction keeps exactly the live keys and shrinks the files', () => {
    const o = options();
    let e = openEngine(o);
    const ns = e.namespace('default')!;
    for (let round = 0; round < 5; round++)
      for (let i = 0; i < 200; i++) ns.set(b(`k${i}`), b(`r${round}-${i}`.repeat(10)));
    for (let i = 0; i < 200; i += 2) ns.del(b(`k${i}`));
    e.close();
    const result = compactNamespace(o, 'default');
    assert.equal(result.entries, 100);
    assert.ok(result.bytesAfter < result.bytesBefore / 4, JSON.stringify(result));
    e = openEngine(o);
    const n2 = e.namespace('default')!;
    assert.equal(n2.stats().entries, 100);
    for (let i = 1; i < 200; i += 2) assert.deepEqual(n2.get(b(`k${i}`)), b(`r4-${i}`.repeat(10)));
    for (let i = 0; i < 200; i += 2) assert.equal(n2.get(b(`k${i}`)), null);
    e.close();
  });
});
