export * from './kinds.ts';
export * from './topics.ts';
export * from './readings.ts';
export * from './status.ts';
export * from './alerts.ts';
export * from './notice.ts';
export * from './ingest.ts';
export * from './overrides.ts';
export { REASON_KEYS, REASON_TEMPLATES, VOCABULARY, renderReason, type ReasonKey, type Lang } from './reasons.ts';
