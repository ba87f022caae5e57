// aedes-persistence-level ships no types: the part floodgate uses.
declare module 'aedes-persistence-level' {
  import type { Level } from 'level';
  interface LevelPersistence {
    destroy(): Promise<void>;
  }
  function aedesPersistenceLevel(db: Level<string, unknown>): LevelPersistence;
  export default aedesPersistenceLevel;
}

declare module 'aedes-persistence-redis' {
  import type { Redis } from 'ioredis';
  interface RedisPersistence {
    destroy(): Promise<void>;
  }
  function aedesPersistenceRedis(opts: { conn?: Redis; maxSessionDelivery?: number }): RedisPersistence;
  export default aedesPersistenceRedis;
}

declare module 'mqemitter-redis' {
  interface MQEmitterRedis {
    close(cb: () => void): void;
  }
  function mqemitterRedis(opts: { connectionString: string }): MQEmitterRedis;
  export default mqemitterRedis;
}
