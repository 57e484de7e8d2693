/**
 * The `zdb` command (also `twin zdb`): runs the server, or compacts a namespace. Its flags follow
 * 0-db's zdb, plus the per-client limits (server/limits.ts). `main()` is the entry of `bin/zdb.js`:
 * every failure is one line on stderr and a non-zero exit, never a stack trace.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { compactNamespace } from './engine/compact.ts';
import { lockDirectories } from './engine/lock.ts';
import { MAX_DATASIZE, MIN_DATASIZE } from './engine/types.ts';
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
  maxclients: number;
  idleTimeout: number;
  maxOutput: number;
  maxRequest: number;
  maxWaits: number;
}

function port(v: string): number {
  const n = /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!(n >= 0 && n <= 65535)) throw new InvalidArgumentError('expected a port number from 0 to 65535');
  return n;
}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** A data file size: bytes, or with a K/M/G suffix (binary), within 0-db's bounds. */
function datasize(v: string): number {
  const m = /^(\d+)([kmg]?)$/i.exec(v.trim());
  const n = m ? Number(m[1]) * UNITS[m[2]!.toLowerCase()]! : Number.NaN;
  if (!(n >= MIN_DATASIZE && n <= MAX_DATASIZE))
    throw new InvalidArgumentError(`expected a size from ${MIN_DATASIZE} bytes to 4G (e.g. 1048576, 256M)`);
  return n;
}

/** `zdb` / `twin zdb`: runs a 0-db compatible server. Flags follow 0-db's zdb. */
export function zdbCommand(name: string): Command {
  const d = DEFAULT_OPTIONS;
  const cmd = new Command(name)
    .description('run a 0-db compatible key-value server (RESP protocol)')
    .version(VERSION, '--version')
    .option('--listen <addr>', 'listen address', d.listen)
    .option('--port <port>', 'listen port', port, d.port)
    .option('--socket <path>', 'also listen on a unix socket')
    .option('--data <dir>', 'data files directory', d.data)
    .option('--index <dir>', 'index files directory', d.index)
    .addOption(
      new Option('--mode <mode>', 'server mode (default: mixed, each namespace chooses with NSSET ns mode)')
        .choices(['user', 'seq', 'mix'])
        .default(d.mode),
    )
    .option('--admin <password>', 'admin password (or env ZDB_ADMIN)')
    .option('--protect', 'default namespace is read-only unless authenticated as admin')
    .option(
      '--maxsize <bytes>',
      'default maximum size of new namespaces (0 = unlimited)',
      int('maxsize'),
      d.maxsize,
    )
    .option('--datasize <bytes>', 'data file rotation size', datasize, d.datasize)
    .option('--sync', 'fsync every write before acknowledging it (batched across clients)')
    .option('--synctime <seconds>', 'without --sync: fsync every N seconds', int('synctime'), d.synctime)
    .option('--hook <program>', 'program run on events (ready, close, jump-data, namespace-created, ...)')
    .option('--verbose', 'debug logging')
    .option('--maxclients <n>', 'connections at once (0 = unlimited)', int('maxclients'), d.maxclients)
    .option(
      '--idle-timeout <seconds>',
      'close a connection idle this long (0 = never)',
      int('idle-timeout'),
      d.idleTimeout,
    )
    .option(
      '--max-output <bytes>',
      "per client: unsent replies beyond which the server stops reading the client's requests",
      int('max-output'),
      d.maxOutput,
    )
    .option('--max-request <bytes>', 'largest request (all its arguments)', int('max-request'), d.maxRequest)
    .option('--max-waits <n>', 'WAITs pending per connection', int('max-waits'), d.maxWaits)
    .action(async (flags: Flags) => {
      const admin = flags.admin ?? process.env.ZDB_ADMIN ?? '';
      if (flags.protect && !admin)
        throw new InvalidArgumentError('--protect needs an admin password (--admin)');
      const log = pino({ name: 'zdb', level: flags.verbose ? 'debug' : 'info' }, pino.destination(2));
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
        maxclients: flags.maxclients,
        idleTimeout: flags.idleTimeout,
        maxOutput: flags.maxOutput,
        maxRequest: flags.maxRequest,
        maxWaits: flags.maxWaits,
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
    .description(
      'rewrite a namespace without dead entries (refused while a server runs on the directories); ' +
        'takes --data, --index and --datasize of zdb itself',
    )
    .argument('<namespace>')
    .option('--json', 'print the result as JSON')
    .action(async (namespace: string, o: { json?: boolean }, sub: Command) => {
      // --data/--index/--datasize are the server's own options, wherever they are written.
      const f = sub.parent!.opts() as Flags;
      const lock = await lockDirectories([f.data, f.index]);
      let r: ReturnType<typeof compactNamespace>;
      try {
        r = compactNamespace(
          { dataDir: f.data, indexDir: f.index, mode: 'user', datasize: f.datasize, maxsize: 0 },
          namespace,
        );
      } finally {
        lock.release();
      }
      if (o.json) console.log(JSON.stringify(r));
      else
        console.log(
          `compacted ${r.namespace}: ${r.entries} live entries, ${r.bytesBefore} → ${r.bytesAfter} bytes`,
        );
    });
  return cmd;
}

/** One line for a failure: its message (and its code, when it has one). */
function oneLine(e: unknown): string {
  const err = e as Error & { code?: unknown };
  const message = (err instanceof Error ? err.message : String(e)).replace(/\s*\n\s*/g, ' ').trim();
  const code = typeof err?.code === 'string' && !err.code.startsWith('commander') ? ` (${err.code})` : '';
  return `zdb: ${message}${code}`;
}

/** `zdb ...`: runs the command; a failure prints one line and exits 1. */
export async function main(argv: string[]): Promise<void> {
  const fail = (e: unknown): never => {
    console.error(oneLine(e));
    process.exit(1);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  const cmd = zdbCommand('zdb').configureOutput({
    outputError: (text, write) =>
      write(
        `zdb: ${text
          .replace(/^error: /, '')
          .replace(/\s*\n\s*/g, ' ')
          .trim()}\n`,
      ),
  });
  for (const sub of cmd.commands) sub.copyInheritedSettings(cmd);
  try {
    await cmd.parseAsync(argv);
  } catch (e) {
    fail(e);
  }
}
