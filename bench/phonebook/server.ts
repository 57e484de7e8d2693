/**
 * A phonebook server for the benchmarks: the real server (startPhonebook), with the write rate
 * limits lifted, since a benchmark writes from one address as fast as it can.
 *
 *   node --import tsx bench/phonebook/server.ts DATA_DIR PORT
 */
import { startPhonebook, UNLIMITED } from '@twin/phonebook';

const [dataDir, port] = process.argv.slice(2);
const running = await startPhonebook({
  dataDir: dataDir!,
  port: Number(port),
  limits: { perClient: UNLIMITED, perTwin: UNLIMITED },
});
process.on('SIGTERM', () => void running.close().then(() => process.exit(0)));
