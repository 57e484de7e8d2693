import { initIdentity } from '@twin/identity';
import { checkName } from '@twin/phonebook';
import { HomeLock, prepareHome } from '@twin/twin';
import { Command } from 'commander';
import { homeOption, jsonOption, passphrase, passphraseOption, print, readText } from '../options.ts';

export function initCommand(): Command {
  const cmd = new Command('init')
    .description("create a twin's identity: a 24-word mnemonic and the keys derived from it")
    .requiredOption('--name <name>', "the twin's name (lowercase, 3-64 of a-z 0-9 - _ .)")
    .option('--mnemonic-file <file>', 'restore from the mnemonic in this file instead of creating one')
    .option('--force', 'replace an existing keystore (refused while the twin runs)');
  homeOption(cmd, "the twin's home directory (created or tightened to mode 0700)");
  passphraseOption(cmd, 'encrypt the keystore with the passphrase in this file');
  jsonOption(cmd, 'print the result as JSON');
  return cmd.action(
    (o: {
      home: string;
      name: string;
      mnemonicFile?: string;
      passphraseFile?: string;
      force?: boolean;
      json?: boolean;
    }) => {
      checkName(o.name);
      const mnemonic = o.mnemonicFile ? readText(o.mnemonicFile, 'mnemonic file') : undefined;
      const secret = passphrase(o.passphraseFile);
      const home = prepareHome(o.home);
      // Replacing the keys under a running twin would leave it signing with the old ones.
      const lock = HomeLock.acquire(home, 'replacing its keystore');
      let created: ReturnType<typeof initIdentity>;
      try {
        created = initIdentity({ home, name: o.name, mnemonic, passphrase: secret, force: o.force });
      } finally {
        lock.release();
      }
      const { identity, mnemonic: words } = created;
      const signingKey = Buffer.from(identity.signingPublicKey).toString('base64');
      const encryptionKey = Buffer.from(identity.encryptionPublicKey).toString('base64');
      print(
        o,
        { name: o.name, home: o.home, signingKey, encryptionKey, ...(mnemonic ? {} : { mnemonic: words }) },
        () =>
          [
            `twin "${o.name}" created in ${o.home}`,
            `  signing key     ${signingKey}`,
            `  encryption key  ${encryptionKey}`,
            ...(mnemonic
              ? []
              : [
                  '\nYour mnemonic (shown once — write it down and keep it offline; it restores this twin):\n',
                  `  ${words}\n`,
                  'Anyone who has these words controls this twin.',
                ]),
          ].join('\n'),
      );
    },
  );
}
