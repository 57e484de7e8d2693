/**
 * The `twin` command. Each subcommand's module is imported only when that subcommand runs, so
 * `twin --help` and `twin --version` load commander and nothing else (no libp2p, no SQLite).
 * Every failure prints one line on stderr and exits non-zero, never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { oneLine } from './errors.ts';

export { oneLine };

interface Entry {
  name: string;
  description: string;
  load(): Promise<Command>;
}

/** Every subcommand: its name, its one-line description, and how to load it. */
const COMMANDS: Entry[] = [
  {
    name: 'zdb',
    description: 'run a 0-db compatible key-value server (RESP protocol)',
    load: async () => (await import('@twin/zdb/cli')).zdbCommand('zdb'),
  },
  {
    name: 'demo',
    description:
      'run alice, bob and carol: three real twins with their web apps, a phonebook and QSS backends',
    load: async () => (await import('./commands/demo.ts')).demoCommand(),
  },
  {
    name: 'signin-link',
    description: "a one-time link that signs a browser in to the running twin's web app",
    load: async () => (await import('./commands/signin.ts')).signinLinkCommand(),
  },
  {
    name: 'init',
    description: "create a twin's identity: a 24-word mnemonic and the keys derived from it",
    load: async () => (await import('./commands/identity.ts')).initCommand(),
  },
  {
    name: 'phonebook',
    description: 'the Twin Phonebook: verifiable registry of twins, farms and nodes',
    load: async () => (await import('./commands/phonebook.ts')).phonebookCommand(),
  },
  {
    name: 'lookup',
    description: 'find a twin by name or id; prints its verified record',
    load: async () => (await import('./commands/phonebook.ts')).lookupCommand(),
  },
  {
    name: 'start',
    description: 'run this twin: its network host, its bus, and its phonebook record kept current',
    load: async () => (await import('./commands/bus.ts')).startCommand(),
  },
  {
    name: 'ping',
    description: 'round trip over the bus to a running twin; prints the RTT',
    load: async () => (await import('./commands/bus.ts')).pingCommand(),
  },
  {
    name: 'send',
    description:
      'reliable one-way message: queued in the outbox, delivered exactly once (retried until its ttl)',
    load: async () => (await import('./commands/bus.ts')).sendCommand(),
  },
  {
    name: 'bcdb',
    description: "the twin's own database: objects with tags and ACLs (talks to the running twin)",
    load: async () => (await import('./commands/bcdb/index.ts')).bcdbCommand(),
  },
  {
    name: 'contacts',
    description:
      'contacts and contact requests: add, accept, decline, remove, block (talks to the running twin)',
    load: async () => (await import('./commands/contacts.ts')).contactsCommand(),
  },
  {
    name: 'chat',
    description: 'chat with contacts: send, reply, edit, delete, react, read, history, search',
    load: async () => (await import('./commands/chat.ts')).chatCommand(),
  },
  {
    name: 'files',
    description: 'files: put, get, ls, mv, rm, mkdir, share, unshare, shared (talks to the running twin)',
    load: async () => (await import('./commands/files.ts')).filesCommand(),
  },
  {
    name: 'posts',
    description: 'posts: create, feed, like, comment, delete (talks to the running twin)',
    load: async () => (await import('./commands/posts.ts')).postsCommand(),
  },
  {
    name: 'profile',
    description: "this twin's profile (name, status, avatar), shown to contacts only",
    load: async () => (await import('./commands/profile.ts')).profileCommand(),
  },
  {
    name: 'qss',
    description: 'Quantum Safe Storage: files encrypted, erasure-coded and dispersed over 0-db backends',
    load: async () => (await import('./commands/qss.ts')).qssCommand(),
  },
  {
    name: 'farm',
    description: 'grid farms: create one owned by this twin, or list them',
    load: async () => (await import('./commands/grid/farm.ts')).farmCommand(),
  },
  {
    name: 'node',
    description: 'run a grid node agent (Zero-OS: storage, compute, network) in a farm',
    load: async () => (await import('./commands/grid/node.ts')).nodeCommand(),
  },
  {
    name: 'nodes',
    description: 'list grid nodes with their status and capacity',
    load: async () => (await import('./commands/grid/nodes.ts')).nodesCommand(),
  },
  {
    name: 'deploy',
    description: 'deploy workloads on a grid node under a contract',
    load: async () => (await import('./commands/grid/deploy.ts')).deployCommand(),
  },
  {
    name: 'deployments',
    description: "this twin's contracts on the grid",
    load: async () => (await import('./commands/grid/deploy.ts')).deploymentsCommand(),
  },
  {
    name: 'deployment',
    description: 'one deployment: get its workloads and their state',
    load: async () => (await import('./commands/grid/deploy.ts')).deploymentCommand(),
  },
  {
    name: 'cancel',
    description: 'cancel a contract: its node removes the workloads',
    load: async () => (await import('./commands/grid/deploy.ts')).cancelCommand(),
  },
];

/** This package's version (package.json sits one level above both src/ and dist/). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Usage errors print as one line too (commander's own "error: ..." text, minus the prefix). */
function inherit(root: Command, cmd: Command): void {
  cmd.copyInheritedSettings(root);
  for (const sub of cmd.commands) inherit(root, sub);
}

/**
 * The program for `argv`: the subcommand that `argv` names is loaded; every other one is a stub
 * with its name and description, enough for the help listing.
 */
export async function program(argv: string[]): Promise<Command> {
  const root = new Command('twin')
    .description("Digital Twin: a person's own server on a peer-to-peer grid")
    .version(`twin ${version()}`, '-V, --version', 'print the version')
    .configureOutput({
      outputError: (text, write) => write(`${oneLine(new Error(text.replace(/^error: /, '')))}\n`),
    });
  const words = argv.slice(2).filter((a) => !a.startsWith('-'));
  const wanted = words[0] === 'help' ? words[1] : words[0];
  for (const entry of COMMANDS) {
    if (entry.name === wanted) {
      const cmd = await entry.load();
      inherit(root, cmd);
      root.addCommand(cmd);
    } else {
      root.command(entry.name).description(entry.description);
    }
  }
  return root;
}

function fail(e: unknown): never {
  console.error(oneLine(e));
  process.exit(1);
}

/** Runs the CLI: a failure prints a one-line reason and exits non-zero. */
export async function main(argv: string[]): Promise<void> {
  // Whatever escapes a command (an error event, a rejected promise nobody awaited) is one line too.
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  try {
    await (await program(argv)).parseAsync(argv);
  } catch (e) {
    fail(e);
  }
}
