import { callApi } from '@twin/twin/client';
import { Command } from 'commander';
import { homeOption, jsonOption, print } from '../options.ts';

/** `twin signin-link --home H`: a fresh one-time sign-in link from the running twin (10 minutes, one use). */
export function signinLinkCommand(): Command {
  const cmd = new Command('signin-link').description(
    "a one-time link that signs a browser in to the running twin's web app (valid 10 minutes, once)",
  );
  return jsonOption(homeOption(cmd)).action(async (o: { home: string; json?: boolean }) => {
    const link = await callApi<{ url: string; token: string; expires: number }>(
      o.home,
      'POST',
      '/api/session/link',
    );
    print(o, link, () => link.url);
  });
}
