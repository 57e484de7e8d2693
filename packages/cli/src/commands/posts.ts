import { Command } from 'commander';

export function postsCommand(): Command {
  return new Command('posts');
}
