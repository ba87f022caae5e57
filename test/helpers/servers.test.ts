import { describe, expect, it } from 'vitest';
import { sumOfMetric } from './servers.ts';

describe('sumOfMetric', () => {
  const text = [
    '# HELP vm_rows_inserted_total rows',
    'vm_rows_inserted_total{type="influx"} 1200',
    'vm_rows_inserted_total{type="promremotewrite"} 34',
    'vm_rows_inserted_total_other 99',
    'other_vm_rows_inserted_total 7',
    'vm_rows 5',
    'vm_up 1',
  ].join('\n');
  it.each([
    ['vm_rows_inserted_total', 1234], // every label set, not a longer name, not a suffix match
    ['vm_rows', 5],
    ['vm_up', 1], // the last line, no newline after it
    ['absent_total', 0],
  ])('%s → %i', (name, sum) => {
    expect(sumOfMetric(text, name)).toBe(sum);
  });
});
