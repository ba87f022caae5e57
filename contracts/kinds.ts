export const SENSOR_KINDS = ['water-level', 'rain', 'ponding'] as const;
export type SensorKind = (typeof SENSOR_KINDS)[number];

/** InfluxDB measurement per sensor kind (DESIGN.md, Storage). */
export const MEASUREMENT: Record<SensorKind, string> = {
  'water-level': 'water_level',
  rain: 'rainfall',
  ponding: 'ponding',
};
