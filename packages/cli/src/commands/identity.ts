import { readFileSync } from 'node:fs';
import { initIdentity } from '@twin/identity';
import { checkName } from '@twin/phonebook';
import { Command } from 'commander';

/** The passphrase of a keystore: --passphrase-file, else TWIN_PASSPHRASE, else none. */
export function passphrase(file: string | undefined): string | undefined {
  if (file) return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  return process.env.TWIN_PASSPHRASE || undefined;
}

export function initCommand(): Command {
  return new Command('init')
    .description("create a twin's identity: a 24-word mnemonic and the keys derived from it")
    .requiredOption('--home <dir>', "the twin's home directory")
    .requiredOption('--name <name>', "the twin's name (lowercase, 3-64 of a-z 0-9 - _ .)")
    .option('--mnemonic-file <file>', 'restore from the mnemonic in this file instead of creating one')
    .option(
      '--passphrase-file <file>',
      'encrypt the keystore with the passphrase in this file (or env TWIN_PASSPHRASE)',
    )
    .option('--force', 'replace an existing keystore')
    .option('--json', 'print the result as JSON')
    .action(
      (o: {
        home: string;
        name: string;
        mnemonicFile?: string;
        passphraseFile?: string;
        force?: boolean;
        json?: boolean;
      }) => {
        checkName(o.name);
        const mnemonic = o.mnemonicFile ? readFileSync(o.mnemonicFile, 'utf8') : undefined;
        const { identity, mnemonic: words } = initIdentity({
          home: o.home,
          name: o.name,
          mnemonic,
          passphrase: passphrase(o.passphraseFile),
          force: o.force,
        });
        const signingKey = Buffer.from(identity.signingPublicKey).toString('base64');
        const encryptionKey = Buffer.from(identity.encryptionPublicKey).toString('base64');
        if (o.json) {
          console.log(
            JSON.stringify({
              name: o.name,
              home: o.home,
              signingKey,
              encryptionKey,
              ...(mnemonic ? {} : { mnemonic: words }),
            }),
          );
          return;
        }
        console.log(`twin "${o.name}" created in ${o.home}`);
        console.log(`  signing key     ${signingKey}`);
        console.log(`  encryption key  ${encryptionKey}`);
        if (!mnemonic) {
          console.log(
            '\nYour mnemonic (shown once — write it down and keep it offline; it restores this twin):\n',
          );
          console.log(`  ${words}\n`);
          console.log('Anyone who has these words controls this twin.');
        }
      },
    );
}
