import { z } from 'zod';
import { Timestamp } from './readings.ts';

/** Device status / last will on sensors/{kind}/{id}/status (retained). */
export const DeviceStatus = z.object({
  state: z.enum(['online', 'offline', 'lost']),
  ts: Timestamp.optional(),
  fw: z.string().max(64).optional(),
  battery_v: z.number().min(0).max(60).optional(),
});
export type DeviceStatus = z.infer<typeof DeviceStatus>;
