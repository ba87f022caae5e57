// aedes-persistence-level ships no types: the part floodgate uses.
declare module 'aedes-persistence-level' {
  import type { KeyValueStore } from '../gateway/group-commit-level.ts';
  interface LevelPersistence {
    destroy(): Promise<void>;
    /** The async implementation the callback layer wraps (aedes-persistence's CallBackPersistence). */
    asyncPersistence: object;
  }
  /** A `Level<string, Buffer>`, or anything with the calls it makes (gateway/group-commit-level.ts). */
  function aedesPersistenceLevel(db: Pick<KeyValueStore, keyof KeyValueStore>): LevelPersistence;
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
  import type { Redis } from 'ioredis';
  interface MQEmitterRedis {
    close(cb: () => void): void;
    /** Where the connections' errors are emitted (an 'error' without a listener throws). */
    state: { on(event: 'error', listener: (err: Error) => void): void };
  }
  function mqemitterRedis(opts: { connectionString: string } | { subConn: Redis; pubConn: Redis }): MQEmitterRedis;
  export default mqemitterRedis;
}
