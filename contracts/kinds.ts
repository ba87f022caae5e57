export const SENSOR_KINDS = ['water-level', 'rain', 'ponding'] as const;
export type SensorKind = (typeof SENSOR_KINDS)[number];

/** InfluxDB measurement per sensor kind (DESIGN.md, Storage). */
export const MEASUREMENT: Record<SensorKind, string> = {
  'water-level': 'water_level',
  rain: 'rainfall',
  ponding: 'ponding',
};

/** Sensor kind per InfluxDB measurement: the inverse of MEASUREMENT. */
export const KIND_OF_MEASUREMENT: Readonly<Record<string, SensorKind>> = Object.fromEntries(
  (Object.entries(MEASUREMENT) as Array<[SensorKind, string]>).map(([kind, m]) => [m, kind]),
);
