/** Time is passed in, never read from globals in decision code, so tests can drive it. */
export interface Clock {
  now(): number; // epoch ms
}

export const systemClock: Clock = { now: () => Date.now() };
