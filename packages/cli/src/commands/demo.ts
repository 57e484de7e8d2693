import { join, resolve } from 'node:path';
import { startPhonebook } from '@twin/phonebook';
import { ZdbServer } from '@twin/zdb';
import { Command } from 'commander';
import { port, print } from '../options.ts';
import { stopOnSignals } from '../signals.ts';

/**
 * `twin demo` (what `npm start` runs): brings up the parts of Digital Twin that exist, on
 * embedded defaults, in one process, and tells the user how to poke at them.
 */
export function demoCommand(): Command {
  return new Command('demo')
    .description('run a local demo of every built component on embedded defaults')
    .option('--dir <dir>', 'where the demo keeps its data', process.env.TWIN_DEMO_DIR ?? '.demo')
    .option('--zdb-port <port>', '0-db port', port, 9900)
    .option('--phonebook-port <port>', 'phonebook port', port, 8730)
    .action(async (o: { dir: string; zdbPort: number; phonebookPort: number }) => {
      const dir = resolve(o.dir);
      const zdb = await ZdbServer.start({
        port: o.zdbPort,
        data: join(dir, 'zdb', 'data'),
        index: join(dir, 'zdb', 'index'),
        mode: 'mix',
      });
      const phonebook = await startPhonebook({ dataDir: join(dir, 'phonebook'), port: o.phonebookPort });
      const lines = [
        'Digital Twin demo is running (Ctrl-C to stop)',
        `  data directory   ${dir}`,
        `  0-db             127.0.0.1:${zdb.port}   try: redis-cli -p ${zdb.port} SET hello world`,
        `  phonebook        ${phonebook.url}   try: npx twin init --home ${join(dir, 'alice')} --name alice`,
        `                                            npx twin phonebook register --home ${join(dir, 'alice')}`,
        '                                            npx twin lookup alice',
      ];
      print({}, null, () => lines.join('\n'));
      stopOnSignals(async () => {
        await zdb.close();
        await phonebook.close();
        print({}, null, () => `demo stopped; data kept in ${dir}`);
      });
    });
}
