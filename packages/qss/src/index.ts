export { QssError, type QssErrorCode } from './errors.ts';
export { ReedSolomon } from './reed-solomon.ts';
