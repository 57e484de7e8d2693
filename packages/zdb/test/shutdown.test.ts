import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { ZdbServer } from '../src/index.ts';
import { resp, tempDir } from './helpers.ts';

test('close() lets replies still in flight reach a client that reads slowly', async () => {
  const dir = tempDir('zdb-shutdown-');
  const server = await ZdbServer.start({ port: 0, data: join(dir.path, 'd'), index: join(dir.path, 'i') });
  try {
    const value = Buffer.alloc(1024 * 1024, 7);
    const gets = 16;
    const s = connect(server.port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.write(resp('SET', 'big', value));
    s.write(Buffer.concat(Array.from({ length: gets }, () => resp('GET', 'big'))));
    s.pause(); // 16 MiB of replies wait in the server's socket while close() runs
    let received = 0;
    s.on('data', (d) => {
      received += d.length;
    });
    const ended = new Promise((r) => s.once('close', r));
    await new Promise((r) => setTimeout(r, 300));
    const closing = server.close();
    await new Promise((r) => setTimeout(r, 300));
    s.resume();
    await ended;
    await closing;
    const setReply = '$3\r\nbig\r\n'.length;
    const getReply = `$${value.length}\r\n`.length + value.length + 2;
    assert.equal(received, setReply + gets * getReply);
  } finally {
    await server.close();
    dir.cleanup();
  }
});
