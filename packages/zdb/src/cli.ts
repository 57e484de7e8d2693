import { Command, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { compactNamespace } from './engine/compact.ts';
import { DEFAULT_OPTIONS, VERSION, ZdbServer, type ZdbServerOptions } from './server/server.ts';

function int(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    return Number(v);
  };
}

interface Flags {
  listen: string;
  port: number;
  socket?: string;
  data: string;
  index: string;
  mode: 'user' | 'seq' | 'mix';
  admin?: string;
  protect?: boolean;
  maxsize: number;
  datasize: number;
  sync?: boolean;
  synctime: number;
  hook?: string;
  verbose?: boolean;
}

/** `zdb` / `twin zdb`: runs a 0-db compatible server. Flags follow 0-db's zdb. */
export function zdbCommand(name: string): Command {
  const d = DEFAULT_OPTIONS;
  const cmd = new Command(name)
    .description('run a 0-db compatible key-value server (RESP protocol)')
    .version(VERSION, '--version')
    .option('--listen <addr>', 'listen address', d.listen)
    .option('--port <port>', 'listen port', int('port'), d.port)
    .option('--socket <path>', 'also listen on a unix socket')
    .option('--data <dir>', 'data files directory', d.data)
    .option('--index <dir>', 'index files directory', d.index)
    .addOption(
      new Option('--mode <mode>', 'default namespace mode').choices(['user', 'seq', 'mix']).default(d.mode),
    )
    .option('--admin <password>', 'admin password (or env ZDB_ADMIN)')
    .option('--protect', 'default namespace is read-only unless authenticated as admin')
    .option(
      '--maxsize <bytes>',
      'default maximum size of new namespaces (0 = unlimited)',
      int('maxsize'),
      d.maxsize,
    )
    .option('--datasize <bytes>', 'data file rotation size', int('datasize'), d.datasize)
    .option('--sync', 'fsync every write before acknowledging it (batched across clients)')
    .option('--synctime <seconds>', 'without --sync: fsync every N seconds', int('synctime'), d.synctime)
    .option('--hook <program>', 'program run on events (ready, close, jump-data, namespace-created, ...)')
    .option('--verbose', 'debug logging')
    .action(async (flags: Flags) => {
      const log = pino({ name: 'zdb', level: flags.verbose ? 'debug' : 'info' }, pino.destination(2));
      const admin = flags.admin ?? process.env.ZDB_ADMIN ?? '';
      if (flags.protect && !admin)
        throw new InvalidArgumentError('--protect needs an admin password (--admin)');
      if (flags.datasize < 1024) throw new InvalidArgumentError('--datasize must be at least 1024 bytes');
      const options: ZdbServerOptions = {
        listen: flags.listen,
        port: flags.port,
        socket: flags.socket,
        data: flags.data,
        index: flags.index,
        mode: flags.mode,
        admin,
        protect: Boolean(flags.protect),
        maxsize: flags.maxsize,
        datasize: flags.datasize,
        sync: Boolean(flags.sync),
        synctime: flags.synctime,
        hook: flags.hook,
        log: (level, msg, fields) => log[level](fields ?? {}, msg),
      };
      const server = await ZdbServer.start(options);
      log.info(
        {
          listen: flags.listen,
          port: server.port,
          socket: flags.socket,
          data: flags.data,
          index: flags.index,
          mode: flags.mode,
          sync: options.sync,
        },
        `zdb ${VERSION} ready on ${flags.listen}:${server.port}`,
      );
      const stop = (signal: string) => {
        log.info({ signal }, 'shutting down');
        server.close().then(
          () => process.exit(0),
          (e: Error) => {
            log.error({ error: e.message }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });

  cmd
    .command('compact')
    .description('rewrite a namespace without dead entries (run while the server is stopped)')
    .argument('<namespace>')
    .option('--data <dir>', 'data files directory', d.data)
    .option('--index <dir>', 'index files directory', d.index)
    .option('--datasize <bytes>', 'data file rotation size', int('datasize'), d.datasize)
    .option('--json', 'print the result as JSON')
    .action((namespace: string, o: { data: string; index: string; datasize: number; json?: boolean }) => {
      const r = compactNamespace(
        { dataDir: o.data, indexDir: o.index, mode: 'user', datasize: o.datasize, maxsize: 0 },
        namespace,
      );
      if (o.json) console.log(JSON.stringify(r));
      else
        console.log(
          `compacted ${r.namespace}: ${r.entries} live entries, ${r.bytesBefore} → ${r.bytesAfter} bytes`,
        );
    });
  return cmd;
}
