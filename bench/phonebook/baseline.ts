/** The reference for bench/phonebook: a plain fastify route returning a constant JSON. */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
const body = {
  id: 1,
  name: 'alice',
  signingKey: 'x'.repeat(44),
  encryptionKey: 'y'.repeat(44),
  addresses: ['/ip4/127.0.0.1/tcp/4001'],
};
app.get('/constant', async () => body);
await app.listen({ host: '127.0.0.1', port: Number(process.argv[2] ?? 0) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
