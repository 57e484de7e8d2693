/**
 * @packageDocumentation
 * The 3Bot: a twin's desired state and where it goes on the grid.
 *
 * - {@link parseDesiredState}: the owner's desired-state file (QSS layout over farms, where the
 *   twin runs, backups), checked so that a layout losing data with one farm is refused.
 * - {@link plan}: deterministic placement over the grid's nodes — up nodes only, free capacity,
 *   QSS groups on distinct farms, the twin's host kept out of its own storage, what runs stays
 *   (sticky) — with the reason for every choice and every rejection.
 * - {@link BotError}: the one error class (`bad_desired_state`, `not_enough_farms`, `no_capacity`).
 *
 * @example
 * ```ts
 * import { parseDesiredState, plan } from '@twin/bot';
 *
 * const desired = parseDesiredState(readFileSync('desired.json', 'utf8'));
 * const p = plan(desired, nodes); // nodes: NodeView[] from the phonebook and node status
 * for (const g of p.groups) console.log(g.farm, g.backends.map((b) => b.node));
 * ```
 */
export {
  type DesiredState,
  desiredStateSchema,
  META_NAMESPACE_SIZE,
  parseDesiredState,
  type QssDesired,
  shardsPerGroup,
  type TwinDesired,
} from './desired.ts';
export { BotError, type BotErrorCode } from './errors.ts';
export { gridStorage, NAMESPACE_READY_MS } from './grid.ts';
export { BotLease } from './lease.ts';
export {
  type CurrentPlacement,
  currentPlacementSchema,
  type NodeView,
  type Placement,
  type Plan,
  parseCurrentPlacement,
  plan,
  type Resources,
} from './planner.ts';
export {
  type BotEvent,
  type BotState,
  type DeployedBackend,
  emptyState,
  loadState,
  MAX_EVENTS,
  saveState,
} from './state.ts';
export { type ConvergeOptions, type ConvergeResult, convergeStorage, type StorageGrid } from './storage.ts';
export { formatSize, parseDuration, parseSize } from './units.ts';
