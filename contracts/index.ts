export * from './kinds.ts';
export * from './topics.ts';
export * from './readings.ts';
export * from './status.ts';
export * from './alerts.ts';
export * from './notice.ts';
export * from './ingest.ts';
