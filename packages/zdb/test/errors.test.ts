/** ZdbError codes are derived from 0-db's replies, so callers match codes, not text (issue 17). */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { TwinBaseError } from '@twin/errors';
import { EngineError, errorCode, ZDB_CODES, ZdbClient, ZdbError } from '../src/index.ts';
import { startServer } from './helpers.ts';

test('errorCode: the words before any ":" or "(", snake_case', () => {
  assert.equal(errorCode('Key not found'), 'key_not_found');
  assert.equal(errorCode('No more data'), 'no_more_data');
  assert.equal(errorCode('Internal Error: write failed'), 'internal_error');
  assert.equal(
    errorCode('Your active namespace is not available anymore (probably removed).'),
    'your_active_namespace_is_not_available_anymore',
  );
  assert.equal(errorCode('Namespace is in read-only mode'), 'namespace_is_in_read_only_mode');
  assert.equal(errorCode('connection failed: connect ECONNREFUSED'), 'connection_failed');
});

test('replies, connection failures and the end of a SCAN carry their codes', async () => {
  const s = await startServer();
  const c = new ZdbClient({ port: s.port });
  await assert.rejects(
    c.del('absent'),
    (e: unknown) => e instanceof ZdbError && e.code === ZDB_CODES.keyNotFound,
  );
  await assert.rejects(
    c.select('absent'),
    (e: unknown) => e instanceof ZdbError && e.code === ZDB_CODES.namespaceNotFound,
  );
  assert.equal(await c.scan(), null, 'no_more_data ends a scan');
  c.close();
  await s.stop();
  const gone = new ZdbClient({ port: s.port });
  await assert.rejects(gone.ping(), (e: unknown) => e instanceof ZdbError && e.code === 'connection_failed');
  gone.close();
});

test('both error classes extend TwinBaseError', () => {
  const reply = ZdbError.fromReply('Key not found');
  assert.ok(reply instanceof TwinBaseError);
  assert.deepEqual([reply.code, reply.kind, reply.message], ['key_not_found', 'reply', 'Key not found']);
  const engine = new EngineError('key_not_found', 'Key not found');
  assert.ok(engine instanceof TwinBaseError);
  assert.deepEqual(engine.toJSON(), { code: 'key_not_found', message: 'Key not found' });
});

test('a server that answers bytes that are not RESP: the waiting call fails with protocol_error', async () => {
  const fake = createServer((socket) => socket.once('data', () => socket.write('?what\r\n')));
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  const port = (fake.address() as { port: number }).port;
  const c = new ZdbClient({ port });
  await assert.rejects(
    c.ping(),
    (e: unknown) => e instanceof ZdbError && e.code === 'protocol_error' && e.kind === 'connection',
  );
  c.close();
  await new Promise((resolve) => fake.close(resolve));
});
