/**
 * The web app in a real browser (Debian's chromium through playwright-core) against `twin demo`:
 * real twins, a real phonebook, real 0-db backends. At desktop width alice finds bob by name,
 * bob accepts, they chat both ways with a reply, an edit, a reaction and read receipts; bob's twin
 * is stopped while alice sends three messages (shown "sending"), and when it is back they turn
 * "delivered", then "read", in order on bob's screen. At 375 px alice and carol do the same. Then
 * a group of three, files and posts (where the twin offers them). Every screen is checked with
 * axe-core (no serious or critical violation) and saved as a screenshot in test-artifacts/.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import zlib from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import {
  axe,
  DESKTOP,
  Demo,
  ensureBuilt,
  launch,
  PHONE,
  shot,
  signedIn,
  signIn,
  skipReason,
} from './harness.ts';

const skip = skipReason();
let demo: Demo;
let browser: Browser;
const pages = new Map<string, Page>();
const WAIT = 60_000;

before(async () => {
  if (skip) return;
  await ensureBuilt();
  demo = await Demo.start();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await demo?.stop();
});

/** Screenshot + axe: the screen must have no serious or critical accessibility violation. */
async function check(page: Page, name: string): Promise<void> {
  await shot(page, name);
  const v = await axe(page);
  assert.deepEqual(
    v.map((x) => `${x.impact} ${x.id}: ${x.help} (${x.nodes.map((n) => n.target.join(' ')).join(', ')})`),
    [],
    `axe on ${name}`,
  );
}

const nav = (page: Page, label: string) =>
  page
    .getByRole('navigation', { name: 'Main' })
    .getByRole('link', { name: new RegExp(`^${label}`) })
    .click();

/** The message whose own text (not a quote of it) contains `text`. */
const bubble = (page: Page, text: string) =>
  page
    .locator('[data-testid=message]')
    .filter({ has: page.locator('.text', { hasText: text }) })
    .last();

async function send(page: Page, to: string, text: string): Promise<void> {
  const box = page.getByLabel(`Message ${to}`);
  await box.fill(text);
  await box.press('Enter');
  await bubble(page, text).waitFor();
}

async function messageAction(page: Page, text: string, action: string): Promise<void> {
  const b = bubble(page, text);
  await b.getByRole('button', { name: 'Message actions' }).click();
  await b.getByRole('button', { name: action }).click();
}

async function openChat(page: Page, name: string, wide: boolean): Promise<void> {
  await nav(page, 'Chats');
  if (!wide && (await page.getByRole('link', { name: 'Back to chats' }).isVisible()))
    await page.getByRole('link', { name: 'Back to chats' }).click();
  await page
    .getByTestId('chat-list')
    .getByRole('link', { name: new RegExp(`^${name}`) })
    .click();
  await page.getByRole('heading', { name, level: 2 }).waitFor();
}

/** Waits until the bubble's state is `state` and returns the states seen on the way. */
async function stateOf(page: Page, text: string): Promise<string | null> {
  return bubble(page, text).getAttribute('data-state');
}

async function until(f: () => Promise<boolean>, what: string, ms = WAIT): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * One pair's whole story: `a` finds `b` by name, `b` accepts, a chat both ways with a reply, an
 * edit, a reaction and read receipts, then `b` offline while `a` sends three messages.
 */
async function pairFlow(a: string, b: string, viewport: { width: number; height: number }, tag: string) {
  const wide = viewport.width >= 768;
  const pa = pages.get(`${a}${tag}`) ?? (await signedIn(browser, demo, a, viewport)).page;
  const pb = (await signedIn(browser, demo, b, viewport)).page;
  pages.set(`${a}${tag}`, pa);
  pages.set(`${b}${tag}`, pb);

  // a finds b by name and asks; b sees the request and accepts.
  await nav(pa, 'Contacts');
  await pa.getByLabel('Twin name').fill(b);
  await pa.getByRole('button', { name: 'Find' }).click();
  await pa.getByTestId('found').getByText(b, { exact: true }).waitFor();
  await check(pa, `${tag}-contacts-found`);
  await pa.getByRole('button', { name: 'Send contact request' }).click();
  await pa.getByRole('heading', { name: 'Waiting for an answer' }).waitFor();
  await nav(pb, 'Contacts');
  await pb.getByRole('button', { name: `Accept ${a}` }).click({ timeout: WAIT });
  await pb.getByTestId('contacts').getByText(a, { exact: true }).waitFor();
  await check(pb, `${tag}-contacts-accepted`);
  await pa.getByTestId('contacts').getByText(b, { exact: true }).waitFor({ timeout: WAIT });

  // a writes first; b sees it in the chat list (unread), opens it: a sees "read".
  await pa
    .getByTestId('contacts')
    .locator('li', { hasText: b })
    .getByRole('button', { name: 'Chat' })
    .click();
  await pa.getByRole('heading', { name: b, level: 2 }).waitFor();
  await check(pa, `${tag}-conversation-empty`);
  await send(pa, b, `Hello ${b}, this is ${a}`);
  await nav(pb, 'Chats');
  await pb.getByTestId('chat-list').getByTestId('unread').waitFor({ timeout: WAIT });
  await check(pb, `${tag}-chat-list-unread`);
  await openChat(pb, a, wide);
  await bubble(pb, `Hello ${b}, this is ${a}`).waitFor();
  await until(async () => (await stateOf(pa, `Hello ${b}`)) === 'read', 'the read receipt');

  // b replies to it; a sees the reply with its quote, and the typing indicator before it.
  await messageAction(pb, `Hello ${b}`, 'Reply');
  await pb.getByText('Replying to').waitFor();
  await pb.getByLabel(`Message ${a}`).pressSequentially('Hi ');
  await pa.getByTestId('typing').waitFor({ timeout: WAIT });
  await send(pb, a, `Hi ${a}, nice to meet you`);
  const reply = bubble(pa, `Hi ${a}, nice to meet you`);
  await reply.waitFor({ timeout: WAIT });
  assert.match((await reply.getByTestId('quote').textContent()) ?? '', new RegExp(`Hello ${b}`));

  // a edits the first message; b sees the new text marked edited.
  await messageAction(pa, `Hello ${b}`, 'Edit');
  const box = pa.getByLabel(`Message ${b}`);
  await box.fill(`Hello ${b}! (edited by ${a})`);
  await box.press('Enter');
  await bubble(pb, `(edited by ${a})`)
    .getByText('edited', { exact: false })
    .first()
    .waitFor({ timeout: WAIT });

  // b reacts 👍 to it; a sees the reaction.
  await messageAction(pb, `(edited by ${a})`, 'React 👍');
  await bubble(pa, `(edited by ${a})`).getByRole('button', { name: /👍 1/ }).waitFor({ timeout: WAIT });
  await until(async () => (await stateOf(pb, `Hi ${a}, nice`)) === 'read', "b's message read by a");
  await check(pa, `${tag}-conversation`);
  await check(pb, `${tag}-conversation-other-side`);

  // b's twin stops; a sends three messages: each shows "sending".
  await demo.stopTwin(b);
  const offline = [1, 2, 3].map((i) => `While you were away ${i}`);
  try {
    for (const text of offline) await send(pa, b, text);
    for (const text of offline) assert.equal(await stateOf(pa, text), 'sending', `${text} shows sending`);
    await bubble(pa, offline[2]!).getByTestId('state').getByText('sending').waitFor();
    await check(pa, `${tag}-conversation-sending`);
  } finally {
    // b's twin comes back (also when the lines above failed: the next tests need it).
    await demo.startTwin(b);
  }

  // Delivered; b opens the chat (through a fresh sign-in link, as after a restart of the browser) and reads: read.
  for (const text of offline)
    await until(async () => (await stateOf(pa, text)) === 'delivered', `${text} delivered`, 120_000);
  await check(pa, `${tag}-conversation-delivered`);
  await signIn(pb, demo, b);
  await openChat(pb, a, wide);
  for (const text of offline) await until(async () => (await stateOf(pa, text)) === 'read', `${text} read`);
  const shown = await pb.locator('[data-testid=message] .text').allTextContents();
  const at = offline.map((t) => shown.indexOf(t));
  assert.ok(
    at.every((i) => i >= 0),
    `all three on ${b}'s screen: ${JSON.stringify(shown)}`,
  );
  assert.deepEqual(
    [...at].sort((x, y) => x - y),
    at,
    'in the order they were sent',
  );
  await check(pb, `${tag}-conversation-after-offline`);
}

test('sign-in screen: a used link says so; the screen passes axe', { skip: skip ?? false }, async () => {
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  const link = await demo.link('alice');
  await page.goto(link);
  await page.getByRole('heading', { name: 'Chats', level: 1 }).waitFor();
  await check(page, 'desktop-chats-empty');
  const other = await browser.newContext({ viewport: PHONE });
  const p2 = await other.newPage();
  await p2.goto(link);
  await p2.getByText('already used or has expired').waitFor();
  await check(p2, 'phone-signin-used-link');
  await p2.getByLabel('Keystore passphrase').fill('not the passphrase');
  await p2.getByRole('button', { name: 'Sign in' }).click();
  await p2
    .getByRole('alert')
    .filter({ hasText: /passphrase|token|attempts/ })
    .waitFor();
  await check(p2, 'phone-signin-failed');
  await context.close();
  await other.close();
});

test('desktop: alice and bob become contacts and chat, through bob going offline', {
  skip: skip ?? false,
}, async () => {
  await pairFlow('alice', 'bob', DESKTOP, 'desktop');
});

test('375 px: alice and carol become contacts and chat, through carol going offline', {
  skip: skip ?? false,
}, async () => {
  await pairFlow('alice', 'carol', PHONE, 'phone');
});

test('a group of three: alice creates it, all three write, each sees the others', {
  skip: skip ?? false,
}, async () => {
  const alice = pages.get('alicedesktop')!;
  const bob = pages.get('bobdesktop')!;
  const carol = pages.get('carolphone')!;
  await nav(alice, 'Chats');
  await alice.getByRole('button', { name: 'New group' }).click();
  const dialog = alice.getByRole('dialog', { name: 'New group' });
  await dialog.getByLabel('Group name').fill('Trio');
  await dialog.getByLabel('bob').check();
  await dialog.getByLabel('carol').check();
  await check(alice, 'desktop-new-group');
  await dialog.getByRole('button', { name: 'Create group' }).click();
  await alice.getByRole('heading', { name: 'Trio', level: 2 }).waitFor();
  await send(alice, 'Trio', 'Hello both, from alice');
  for (const [page, wide] of [
    [bob, true],
    [carol, false],
  ] as const) {
    await openChat(page, 'Trio', wide);
    await bubble(page, 'Hello both, from alice').waitFor({ timeout: WAIT });
  }
  await send(bob, 'Trio', 'Hi all, bob here');
  await send(carol, 'Trio', 'Hi all, carol here');
  for (const page of [alice, carol]) await bubble(page, 'Hi all, bob here').waitFor({ timeout: WAIT });
  for (const page of [alice, bob]) await bubble(page, 'Hi all, carol here').waitFor({ timeout: WAIT });
  // Each message names its author for the others.
  assert.equal(await bubble(alice, 'Hi all, carol here').locator('.author').textContent(), 'carol');
  await check(alice, 'desktop-group-conversation');
  await check(carol, 'phone-group-conversation');
  await alice.getByRole('button', { name: 'Members' }).click();
  const members = alice.getByRole('dialog', { name: 'Trio: members' }).getByRole('list', { name: 'Members' });
  await members.getByText('bob').waitFor();
  assert.equal(await members.locator('li').count(), 3);
  await check(alice, 'desktop-group-members');
  await alice.keyboard.press('Escape');
});

/** A PNG of w×h pixels in one colour (zlib through node), for image uploads. */
function png(w: number, h: number): Buffer {
  const { deflateSync, crc32 } = zlib;
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(w * 3, Buffer.from([40, 120, 200]))]);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Waits until an image matching `selector` has loaded (page.evaluate of a string is not subject to the page's CSP). */
const loaded = (page: Page, selector: string) =>
  until(
    async () =>
      (await page.evaluate(
        `[...document.querySelectorAll(${JSON.stringify(selector)})].some((i) => i.complete && i.naturalWidth > 0)`,
      )) as boolean,
    `an image at ${selector}`,
  );

test('an image attachment in chat: sent with progress, previewed on the other side', {
  skip: skip ?? false,
}, async () => {
  const alice = pages.get('alicedesktop')!;
  const bob = pages.get('bobdesktop')!;
  await openChat(alice, 'bob', true);
  await openChat(bob, 'alice', true);
  await alice
    .getByLabel('Attach a file')
    .setInputFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: png(64, 48) });
  const sent = alice.locator('[data-testid=message] .attachment a[download="sunset.png"]');
  await sent.or(alice.locator('.bubble.draft [role=alert]')).first().waitFor({ timeout: WAIT });
  assert.ok(await sent.isVisible(), `not sent: ${await alice.locator('.bubble.draft').allTextContents()}`);
  await bob.locator('[data-testid=message] .attachment a[download="sunset.png"]').waitFor({ timeout: WAIT });
  await loaded(bob, '[data-testid=message] .attachment img');
  await check(bob, 'desktop-conversation-attachment');
});

test('files: alice uploads 20 MiB, shares it with bob, bob downloads the same bytes', {
  skip: skip ?? false,
}, async () => {
  const alice = pages.get('alicedesktop')!;
  const bob = pages.get('bobdesktop')!;
  await nav(alice, 'Files');
  await alice.getByRole('heading', { name: 'Files', level: 1 }).waitFor();
  // The root holds "Chat attachments" after the test before; a fresh folder starts empty.
  await alice.getByTestId('entries').or(alice.getByText('No files yet')).first().waitFor({ timeout: WAIT });
  await alice.getByRole('button', { name: 'New folder' }).click();
  await alice.getByRole('dialog', { name: 'New folder' }).getByLabel('Name').fill('Big files');
  await alice.getByRole('dialog', { name: 'New folder' }).getByRole('button', { name: 'Create' }).click();
  await alice.getByRole('button', { name: 'Big files', exact: true }).click();
  await alice.getByText('This folder is empty').waitFor({ timeout: WAIT });
  await check(alice, 'desktop-files-empty');
  const data = randomBytes(20 * 1024 * 1024);
  const sha = createHash('sha256').update(data).digest('hex');
  await alice
    .getByLabel('Upload files')
    .setInputFiles({ name: 'big.bin', mimeType: 'application/octet-stream', buffer: data });
  await alice
    .getByTestId('upload')
    .waitFor({ timeout: WAIT })
    .catch(() => {}); // may already be done
  await alice.getByTestId('entries').locator('[data-name="big.bin"]').waitFor({ timeout: 180_000 });
  await check(alice, 'desktop-files');
  await alice.getByRole('button', { name: 'Share big.bin' }).click();
  const share = alice.getByRole('dialog', { name: 'Share big.bin' });
  await share.getByLabel('Contact').selectOption({ label: 'bob' });
  await share.getByRole('button', { name: 'Share', exact: true }).click();
  await share.getByText('Shared.').waitFor({ timeout: WAIT });
  await check(alice, 'desktop-files-share-dialog');
  await alice.keyboard.press('Escape');

  await nav(bob, 'Files');
  await bob.getByRole('link', { name: 'Shared with me' }).click();
  const item = bob.getByTestId('shared').locator('[data-name="big.bin"]');
  await item.waitFor({ timeout: WAIT });
  await check(bob, 'desktop-files-shared-with-me');
  const [download] = await Promise.all([
    bob.waitForEvent('download', { timeout: 180_000 }),
    item.getByRole('link', { name: 'big.bin' }).click(),
  ]);
  const path = await download.path();
  assert.ok(path, `download failed: ${await download.failure()}`);
  const got = createHash('sha256').update(readFileSync(path)).digest('hex');
  assert.equal(got, sha, 'bob downloaded the bytes alice uploaded');
});

test('posts: alice posts with an image, bob likes and comments, alice sees both', {
  skip: skip ?? false,
}, async () => {
  const alice = pages.get('alicedesktop')!;
  const bob = pages.get('bobdesktop')!;
  await nav(alice, 'Posts');
  await alice.getByText('No posts yet').waitFor({ timeout: WAIT });
  await check(alice, 'desktop-posts-empty');
  await alice.getByLabel('New post').fill('A sunset from the balcony');
  await alice
    .getByLabel('Add images')
    .setInputFiles({ name: 'balcony.png', mimeType: 'image/png', buffer: png(120, 80) });
  await alice.getByRole('button', { name: 'Post', exact: true }).click();
  const mine = alice.getByTestId('post').filter({ hasText: 'A sunset from the balcony' });
  await mine.waitFor({ timeout: WAIT });
  await loaded(alice, '[data-testid=post] img');

  await nav(bob, 'Posts');
  const theirs = bob.getByTestId('post').filter({ hasText: 'A sunset from the balcony' });
  await theirs.waitFor({ timeout: WAIT });
  await loaded(bob, '[data-testid=post] img');
  await theirs.getByTestId('like').click();
  await theirs.getByRole('button', { name: /Liked · 1/ }).waitFor({ timeout: WAIT });
  await theirs.getByLabel('Write a comment').fill('Beautiful colours');
  await theirs.getByRole('button', { name: 'Comment' }).click();
  await theirs
    .getByRole('list', { name: 'Comments' })
    .getByText('Beautiful colours')
    .waitFor({ timeout: WAIT });
  await check(bob, 'desktop-posts');

  await mine.getByRole('button', { name: /· 1$/ }).waitFor({ timeout: WAIT });
  await mine.getByText('Beautiful colours').waitFor({ timeout: WAIT });
  await check(alice, 'desktop-posts-liked');
});

test('settings: profile saved, twin id and storage health shown; every screen at 375 px', {
  skip: skip ?? false,
}, async () => {
  const alice = pages.get('alicedesktop')!;
  await nav(alice, 'Settings');
  await alice.getByLabel('Status').fill('Watching sunsets');
  await alice.getByRole('button', { name: 'Save profile' }).click();
  await alice.getByText('Saved.').waitFor({ timeout: WAIT });
  assert.equal(await alice.getByTestId('twin-id').textContent(), String(demo.get('alice').twin));
  await alice.getByRole('heading', { name: 'Storage health' }).waitFor();
  await alice.getByText(/backends healthy|not set up/).waitFor({ timeout: WAIT });
  await check(alice, 'desktop-settings');

  const carol = pages.get('carolphone')!;
  for (const [screen, ready] of [
    ['Contacts', 'Your contacts'],
    ['Files', 'Files'],
    ['Posts', 'Posts'],
    ['Settings', 'Profile & settings'],
  ] as const) {
    await nav(carol, screen);
    await carol.getByRole('heading', { name: ready }).first().waitFor();
    await carol
      .locator('[aria-busy=true]')
      .first()
      .waitFor({ state: 'detached', timeout: WAIT })
      .catch(() => {});
    await check(carol, `phone-${screen.toLowerCase()}`);
  }
  await nav(carol, 'Chats');
  await check(carol, 'phone-chats');
});

test('history, search and delete: older pages load while scrolling up; a deleted message is gone for both', {
  skip: skip ?? false,
}, async () => {
  const alice = pages.get('alicedesktop')!;
  const bob = pages.get('bobdesktop')!;
  const aliceId = demo.get('alice').twin;
  for (let i = 1; i <= 70; i++)
    assert.equal(
      (await demo.api('bob', 'POST', `/api/chats/${aliceId}/messages`, { text: `old news ${i}` })).status,
      200,
    );
  await nav(alice, 'Contacts'); // leave and come back: the conversation loads its newest page
  await openChat(alice, 'bob', true);
  await bubble(alice, 'old news 70').waitFor({ timeout: WAIT });
  const count = () => alice.locator('[data-testid=message]').count();
  const first = await count();
  assert.ok(first <= 60, `one page at first (${first} messages)`);
  for (let i = 0; i < 40 && !(await alice.getByText('Start of the conversation').isVisible()); i++) {
    await alice.locator('.messages').hover();
    await alice.mouse.wheel(0, -20_000);
    await new Promise((r) => setTimeout(r, 250));
  }
  await alice
    .locator('[data-testid=message] .text')
    .filter({ hasText: /^old news 1$/ })
    .waitFor();
  assert.ok((await count()) > 70, `every page loaded (${await count()} messages)`);

  await alice.getByLabel('Search messages').fill('away');
  await alice.getByLabel('Search messages').press('Enter');
  const results = alice.getByRole('list', { name: 'Search results' });
  // Found in both chats that hold it (alice wrote it to bob and to carol).
  for (const who of ['bob', 'carol'])
    await results
      .getByRole('link', { name: new RegExp(`^${who} .*While you were away 2`) })
      .waitFor({ timeout: WAIT });
  await check(alice, 'desktop-search');
  await alice.getByRole('button', { name: 'Back to chats' }).click();

  await openChat(alice, 'bob', true);
  await openChat(bob, 'alice', true);
  await send(alice, 'bob', 'This will be deleted');
  await bubble(bob, 'This will be deleted').waitFor({ timeout: WAIT });
  await messageAction(alice, 'This will be deleted', 'Delete');
  await alice
    .getByRole('dialog', { name: 'Delete this message?' })
    .getByRole('button', { name: 'Delete' })
    .click();
  for (const page of [alice, bob]) {
    await page
      .locator('[data-testid=message]')
      .last()
      .getByText('Message deleted')
      .waitFor({ timeout: WAIT });
    assert.equal(await bubble(page, 'This will be deleted').count(), 0);
  }
});
