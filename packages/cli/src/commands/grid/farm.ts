/** `twin farm create|list`: farms are owned by a twin and group nodes. */
import { loadIdentity } from '@twin/identity';
import { PhonebookClient } from '@twin/phonebook';
import { Command } from 'commander';
import { type Common, commonOptions, jsonOption, passphrase, phonebookOption, print } from '../../options.ts';

export function farmCommand(): Command {
  const farm = new Command('farm').description('farms: groups of nodes owned by a twin');
  commonOptions(
    farm.command('create').description('create a farm owned by this twin').argument('<name>'),
  ).action(async (name: string, o: Common) => {
    const identity = loadIdentity(o.home, passphrase(o.passphraseFile));
    const client = new PhonebookClient({ url: o.phonebook });
    const r = await client.submitAs(identity, (me, nonce, timestamp) => ({
      kind: 'farm.create',
      twin: me.id,
      nonce,
      timestamp,
      name,
    }));
    print(o, { farm: r.farm, name }, () => `farm ${r.farm} "${name}" created, owned by ${identity.name}`);
  });
  jsonOption(phonebookOption(farm.command('list').description('list farms'))).action(
    async (o: Pick<Common, 'phonebook' | 'json'>) => {
      const farms = await new PhonebookClient({ url: o.phonebook }).backend.farms();
      print(o, farms, () =>
        farms.length === 0
          ? 'no farms'
          : farms.map((f) => `${f.id}\t${f.name}\towner twin ${f.twin}`).join('\n'),
      );
    },
  );
  return farm;
}
