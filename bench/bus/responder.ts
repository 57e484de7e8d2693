/** The far side of bench/bus, in its own process: a twin bus, a raw libp2p echo, a fastify echo. */
import '../../packages/network/src/polyfills.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lpStream } from '@libp2p/utils';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import { createTwinHost, Mailbox, TwinBus } from '@twin/network';
import { PhonebookClient } from '@twin/phonebook';
import Fastify from 'fastify';

const phonebookUrl = process.argv[2]!;
const identity = TwinIdentity.fromMnemonic('responder', newMnemonic());
const host = await createTwinHost(identity);
const phonebook = new PhonebookClient({ url: phonebookUrl, cacheTtlMs: 600_000 });
const record = await phonebook.publish(identity, host.getMultiaddrs().map(String));
const mailbox = new Mailbox(join(mkdtempSync(join(tmpdir(), 'bench-bus-')), 'bus.sqlite'));
const bus = new TwinBus({ identity, twinId: record.id, host, phonebook, mailbox });
bus.handle('echo', (p) => p);
bus.handle('cpu', () => {
  const u = process.cpuUsage();
  return Buffer.from(String(u.user + u.system));
});
bus.handle('inbox-count', () =>
  Buffer.from(String((mailbox.db.prepare('SELECT count(*) AS n FROM inbox').get() as { n: number }).n)),
);
await bus.start();
await host.handle('/bench/echo/1.0.0', async (stream) => {
  const lp = lpStream(stream);
  try {
    for (;;) await lp.write((await lp.read()).subarray());
  } catch {
    // closed
  }
});
const http = Fastify({ logger: false });
http.post('/echo', async (req) => req.body);
await http.listen({ host: '127.0.0.1', port: 0 });
const a = http.server.address();
process.stdout.write(
  `${JSON.stringify({ twin: record.id, addr: host.getMultiaddrs()[0]!.toString(), http: typeof a === 'object' && a ? a.port : 0 })}\n`,
);
process.on('SIGTERM', () => process.exit(0));
