export { type CompactionResult, compactNamespace } from './compact.ts';
export { DEFAULT_NAMESPACE, openEngine, validNamespaceName } from './engine.ts';
export * from './types.ts';
