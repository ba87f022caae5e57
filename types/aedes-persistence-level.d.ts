// aedes-persistence-level ships no types: the part floodgate uses.
declare module 'aedes-persistence-level' {
  import type { Level } from 'level';
  interface LevelPersistence {
    destroy(): Promise<void>;
  }
  function aedesPersistenceLevel(db: Level<string, unknown>): LevelPersistence;
  export default aedesPersistenceLevel;
}
