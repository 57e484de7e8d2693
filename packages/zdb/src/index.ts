export { zdbCommand } from './cli.ts';
export * from './engine/types.ts';
