import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import { PhonebookClient, startPhonebook } from '../src/index.ts';

test('the client never reads TWIN_PHONEBOOK: only the CLI reads the environment', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pb-env-'));
  const pb = await startPhonebook({ dataDir: dir, port: 0 });
  const saved = process.env.TWIN_PHONEBOOK;
  try {
    await new PhonebookClient({ url: pb.url }).publish(TwinIdentity.fromMnemonic('ann', newMnemonic()));
    process.env.TWIN_PHONEBOOK = pb.url;
    // Without a url the client asks DEFAULT_PHONEBOOK_URL, never the server the variable names.
    const client = new PhonebookClient({ backend: undefined, cacheTtlMs: 0 });
    const found = await client.twin('ann').then(
      () => true,
      () => false,
    );
    assert.equal(found, false, 'the twin was found through TWIN_PHONEBOOK');
    assert.equal((await new PhonebookClient({ url: pb.url }).twin('ann')).name, 'ann');
  } finally {
    if (saved === undefined) delete process.env.TWIN_PHONEBOOK;
    else process.env.TWIN_PHONEBOOK = saved;
    await pb.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
