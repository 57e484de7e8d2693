/**
 * What the browser tests stand on: `twin demo` (a real phonebook, real 0-db backends, alice, bob
 * and carol as real `twin start` processes serving this app), Debian's chromium driven by
 * playwright-core (never a downloaded browser), axe-core injected into each screen, and
 * screenshots into test-artifacts/.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePortRange } from '@twin/twin';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const WEB = new URL('..', import.meta.url).pathname;
export const ARTIFACTS = join(WEB, 'test-artifacts');
const TWIN = new URL('../../cli/bin/twin.js', import.meta.url).pathname;
/**
 * The environment of the twins: run from the sources (like the tests themselves) when this
 * process resolves the workspace packages to their sources, else from their build.
 */
const SOURCE = import.meta.resolve('@twin/cli').endsWith('.ts');
const ENV = SOURCE
  ? { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --conditions=source`.trim() }
  : process.env;
/** How long one API call of a test may take. */
const API_TIMEOUT_MS = 60_000;
/** How long a stopped twin may take to exit before it is killed. */
const STOP_GRACE_MS = 20_000;
/** How long `twin demo` may take to bring up its three twins on a loaded machine. */
const DEMO_TIMEOUT_MS = 240_000;

/** Why the browser tests cannot run here, or null. */
export function skipReason(): string | null {
  if (!existsSync(CHROMIUM))
    return `${CHROMIUM} is absent: install Debian's chromium to run the browser tests`;
  return null;
}

/** Builds the app when it has not been built (the twin indexes dist/ when it starts). */
export async function ensureBuilt(): Promise<void> {
  if (existsSync(join(WEB, 'dist', 'index.html'))) return;
  const vite = await import('vite');
  await vite.build({ root: WEB, configFile: join(WEB, 'vite.config.ts'), logLevel: 'warn' });
}

export interface DemoTwin {
  name: string;
  twin: number;
  url: string;
  link: string;
  pid: number;
  home: string;
  command: string[];
}

export class Demo {
  readonly twins = new Map<string, DemoTwin>();
  /** Twins this test restarted itself (the demo only owns the ones it started). */
  private readonly restarted = new Map<string, ChildProcess>();

  private constructor(
    private readonly child: ChildProcess,
    readonly dir: string,
  ) {}

  /** `twin demo --fresh --json` on free ports; resolves once the three twins are up. */
  static async start(): Promise<Demo> {
    const dir = join(tmpdir(), `twin-web-test-${process.pid}-${Date.now()}`);
    for (let attempt = 0; ; attempt++) {
      // Ports from a random base: the demo says which one is taken, then another base is tried.
      // below the ports the OS hands out for port 0, so no twin or 0-db can take one meanwhile
      const base = await freePortRange(30);
      const child = spawn(
        process.execPath,
        [
          TWIN,
          'demo',
          '--dir',
          dir,
          '--fresh',
          '--json',
          '--api-port',
          String(base),
          '--phonebook-port',
          String(base + 10),
          '--zdb-port',
          String(base + 20),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env: ENV },
      );
      const demo = new Demo(child, dir);
      let out = '';
      let err = '';
      child.stdout!.on('data', (d) => {
        out += d;
      });
      child.stderr!.on('data', (d) => {
        err += d;
      });
      const end = Date.now() + DEMO_TIMEOUT_MS;
      while (Date.now() < end) {
        for (const line of out.split('\n')) {
          if (!line.startsWith('{')) continue;
          const t = JSON.parse(line) as DemoTwin;
          demo.twins.set(t.name, t);
        }
        if (demo.twins.size === 3) return demo;
        if (child.exitCode !== null) break;
        await sleep(100);
      }
      child.kill('SIGKILL');
      if (attempt < 3 && /in use/.test(err)) continue;
      throw new Error(`twin demo did not come up: ${err.slice(-2000)}`);
    }
  }

  get(name: string): DemoTwin {
    const t = this.twins.get(name);
    if (!t) throw new Error(`no demo twin ${name}`);
    return t;
  }

  /** Calls a twin's API with its API token. */
  async api<T>(
    name: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: T }> {
    const t = this.get(name);
    const token = readFileSync(join(t.home, 'api-token'), 'utf8').trim();
    const res = await fetch(new URL(path, t.url), {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(API_TIMEOUT_MS),
    });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T };
  }

  /** A fresh one-time sign-in link for a twin. */
  async link(name: string): Promise<string> {
    const r = await this.api<{ url: string }>(name, 'POST', '/api/session/link');
    if (r.status !== 200) throw new Error(`no sign-in link for ${name}: ${JSON.stringify(r.json)}`);
    return r.json.url;
  }

  /** Stops one twin (SIGTERM) and waits until its API no longer answers. */
  async stopTwin(name: string): Promise<void> {
    const t = this.get(name);
    const mine = this.restarted.get(name);
    this.restarted.delete(name);
    if (mine) mine.kill('SIGTERM');
    else process.kill(t.pid, 'SIGTERM');
    // Gone means the process has exited, not just its API closed: a twin shutting down may still
    // acknowledge bus messages for a moment after its API stopped answering. A twin still shutting
    // down after STOP_GRACE_MS (a loaded machine) is killed: for the other twins it is gone either way.
    const gone = () => (mine ? mine.exitCode !== null || mine.signalCode !== null : !alive(t.pid));
    const end = Date.now() + STOP_GRACE_MS;
    while (Date.now() < end) {
      if (gone()) return;
      await sleep(50);
    }
    try {
      if (mine) mine.kill('SIGKILL');
      else process.kill(t.pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
    for (let i = 0; i < 200; i++) {
      if (gone()) return;
      await sleep(50);
    }
    throw new Error(`${name}'s twin did not stop`);
  }

  /** Starts a stopped twin again with the demo's own command line; resolves when its API answers. */
  async startTwin(name: string): Promise<void> {
    const t = this.get(name);
    const [node, ...args] = t.command;
    const child = spawn(node!, args, { stdio: 'ignore', env: ENV });
    this.restarted.set(name, child);
    for (let i = 0; i < 2400; i++) {
      if (await answers(t.url)) return;
      if (child.exitCode !== null) throw new Error(`${name}'s twin exited on restart`);
      await sleep(50);
    }
    throw new Error(`${name}'s twin did not come back`);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.restarted.keys()].map((name) => this.stopTwin(name).catch(() => {})));
    if (this.child.exitCode === null) {
      const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
      this.child.kill('SIGINT');
      await Promise.race([exited, sleep(30_000)]);
      if (this.child.exitCode === null) this.child.kill('SIGKILL');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(new URL('/api/health', url), { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 740 };

/** A browser tab signed in as `name` through a one-time link, showing the chat list. */
export async function signedIn(
  browser: Browser,
  demo: Demo,
  name: string,
  viewport: { width: number; height: number },
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${name} page error] ${e.message}`));
  await signIn(page, demo, name);
  return { context, page };
}

export async function signIn(page: Page, demo: Demo, name: string): Promise<void> {
  await page.goto(await demo.link(name));
  await page.getByRole('heading', { name: 'Chats', level: 1 }).waitFor();
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core on the page as it is: the serious and critical violations (none is the goal). */
export async function axe(page: Page): Promise<Violation[]> {
  if (!(await page.evaluate('typeof window.axe === "object"'))) await page.evaluate(axeSource);
  const result = (await page.evaluate(
    'window.axe.run(document, { resultTypes: ["violations"] }).then(r => r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => ({ target: n.target })) })))',
  )) as Violation[];
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Saves a screenshot of the page as test-artifacts/<name>.png. */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}
