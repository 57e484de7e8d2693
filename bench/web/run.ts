/**
 * bench/web: the web app as a person meets it, measured in the real browser (Debian's chromium
 * through playwright-core) against `twin demo`:
 *   - the first screen's bundle, gzipped (index.html's script, stylesheet and preloaded chunks);
 *   - the time from navigation to the chat list rendered (signed in, alice with one chat);
 *   - the time from alice pressing Enter in her browser to the message shown in bob's browser,
 *     p50/p99 over N messages (one at a time; both clocks are the same machine's).
 *
 *   npm run bench:web [-- --json] [-- --messages N] [-- --loads L]
 *
 * Reference (issue 13's targets): bundle ≤ 300 KB gzipped, chat list ≤ 1,000 ms, send-to-shown
 * p50 ≤ 50 ms.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  DESKTOP,
  Demo,
  ensureBuilt,
  launch,
  signedIn,
  skipReason,
  WEB,
} from '../../packages/web/test/harness.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const json = process.argv.includes('--json');
const N = arg('--messages', 200);
const LOADS = arg('--loads', 10);
const log = (s: string) => process.stderr.write(`${s}\n`);
const REFERENCE = { bundleKB: 300, chatListMs: 1000, sendP50Ms: 50 };

const why = skipReason();
if (why) {
  console.error(`bench/web: ${why}`);
  process.exit(1);
}
await ensureBuilt();

// 1. The first screen's bytes: what index.html loads before anything else.
const dist = join(WEB, 'dist');
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const first = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
const gz = (path: string) => gzipSync(readFileSync(join(dist, path)), { level: 9 }).length;
const bundleBytes = gz('index.html') + first.reduce((n, f) => n + gz(f), 0);
log(`first screen: ${first.join(', ')}: ${(bundleBytes / 1024).toFixed(1)} KB gzipped`);

/** Polls `f` (page.evaluate of a string is not subject to the page's CSP, waitForFunction is). */
async function until(f: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

log('starting twin demo ...');
const demo = await Demo.start();
const browser = await launch();
try {
  // alice and bob become contacts through the API (the browser tests do it through the app).
  const bob = demo.get('bob').twin;
  const alice = demo.get('alice').twin;
  await demo.api('alice', 'POST', '/api/contacts', { name: 'bob', message: '' });
  for (let i = 0; i < 200; i++) {
    const r = await demo.api<{ contacts: { twin: number }[] }>('alice', 'GET', '/api/contacts');
    if (r.json.contacts.some((c) => c.twin === bob)) break;
    if (i === 0) await demo.api('bob', 'POST', `/api/contacts/requests/${alice}/accept`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await demo.api('alice', 'POST', `/api/chats/${bob}/messages`, { text: 'hello bob' });

  // 2. Navigation → chat list rendered (the list's element in the DOM, timed inside the page).
  const a = await signedIn(browser, demo, 'alice', DESKTOP);
  // Page scripts are strings: this file is type-checked without the DOM's types.
  await a.page.addInitScript(`
    new MutationObserver((_, o) => {
      if (document.querySelector('[data-testid=chat-list] a')) {
        window.chatListAt = performance.now();
        o.disconnect();
      }
    }).observe(document, { subtree: true, childList: true });
  `);
  const loads: number[] = [];
  for (let i = 0; i < LOADS; i++) {
    await a.page.goto(new URL('/chats', demo.get('alice').url).href);
    await until(async () => (await a.page.evaluate('window.chatListAt !== undefined')) as boolean);
    loads.push((await a.page.evaluate('window.chatListAt')) as number);
  }
  log(`chat list rendered after ${loads.map((x) => x.toFixed(0)).join(', ')} ms`);

  // 3. Send → shown: alice's Enter keydown to the bubble in bob's page.
  const b = await signedIn(browser, demo, 'bob', DESKTOP);
  await b.page.goto(new URL(`/chats/${alice}`, demo.get('bob').url).href);
  await b.page.getByRole('heading', { name: 'alice', level: 2 }).waitFor();
  await a.page.goto(new URL(`/chats/${bob}`, demo.get('alice').url).href);
  await a.page.getByRole('heading', { name: 'bob', level: 2 }).waitFor();
  await b.page.evaluate(`
    window.shown = {};
    new MutationObserver((records) => {
      for (const r of records)
        for (const n of r.addedNodes) {
          if (!(n instanceof HTMLElement)) continue;
          const el = n.matches('.text') ? n : n.querySelector('.text');
          const t = el ? el.textContent : null;
          if (t && t.startsWith('bench ') && !(t in window.shown)) window.shown[t] = performance.timeOrigin + performance.now();
        }
    }).observe(document.body, { subtree: true, childList: true });
  `);
  await a.page.evaluate(`
    window.sent = {};
    document.addEventListener('keydown', (e) => {
      const t = e.target;
      if (e.key === 'Enter' && t.tagName === 'TEXTAREA') window.sent[t.value] = performance.timeOrigin + performance.now();
    }, true);
  `);
  const box = a.page.getByLabel('Message bob');
  const latencies: number[] = [];
  for (let i = 0; i < N; i++) {
    const text = `bench ${i}`;
    await box.fill(text);
    await box.press('Enter');
    await until(
      async () => (await b.page.evaluate(`window.shown[${JSON.stringify(text)}] !== undefined`)) as boolean,
    );
    const sent = (await a.page.evaluate(`window.sent[${JSON.stringify(text)}]`)) as number;
    const shown = (await b.page.evaluate(`window.shown[${JSON.stringify(text)}]`)) as number;
    latencies.push(shown - sent);
  }

  const result = {
    bench: 'web',
    bundleGzipKB: Number((bundleBytes / 1024).toFixed(1)),
    firstScreenFiles: first.length,
    chatListMs: {
      p50: Number(pct(loads, 50).toFixed(1)),
      max: Number(Math.max(...loads).toFixed(1)),
      loads: LOADS,
    },
    sendToShownMs: {
      p50: Number(pct(latencies, 50).toFixed(1)),
      p99: Number(pct(latencies, 99).toFixed(1)),
      max: Number(Math.max(...latencies).toFixed(1)),
      messages: N,
    },
    reference: REFERENCE,
  };
  if (json) console.log(JSON.stringify(result));
  else {
    console.log(`web app                         this run    target`);
    console.log(
      `first-screen bundle (gzip)  ${`${result.bundleGzipKB} KB`.padStart(12)} ${`≤ ${REFERENCE.bundleKB} KB`.padStart(10)}`,
    );
    console.log(
      `navigation → chat list p50  ${`${result.chatListMs.p50} ms`.padStart(12)} ${`≤ ${REFERENCE.chatListMs} ms`.padStart(10)}`,
    );
    console.log(
      `send → shown p50            ${`${result.sendToShownMs.p50} ms`.padStart(12)} ${`≤ ${REFERENCE.sendP50Ms} ms`.padStart(10)}`,
    );
    console.log(`send → shown p99            ${`${result.sendToShownMs.p99} ms`.padStart(12)}`);
  }
} finally {
  await browser.close();
  await demo.stop();
}
