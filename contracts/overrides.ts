/**
 * An officer's override of a sensor's suspicion (issue 22: "gates that sensor's closures —
 * officers can override"). The alerts service publishes it, retained, on
 * `floodgate/overrides/{sensorId}` when an officer trusts the readings behind a firing
 * `sensor-data-quality` alert; the rules engine then takes that sensor's readings for water
 * (no vehicle, no object, no baseline shift) until it reads dry again. It names the alert it
 * answers: kept retained, it is read again after a restart and applies only while that alert is
 * the sensor's suspicion.
 */
import { z } from 'zod';
import { ID_PATTERN } from './topics.ts';

export const SensorTrust = z.strictObject({
  sensorId: z.string().regex(ID_PATTERN),
  /** The sensor-data-quality alert whose suspicion the officer overrides. */
  alertId: z.string().min(1).max(200),
  by: z.string().min(1).max(64),
  note: z.string().max(500),
  at: z.iso.datetime({ offset: true }),
});
export type SensorTrust = z.infer<typeof SensorTrust>;
