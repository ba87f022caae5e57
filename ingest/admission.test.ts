import { describe, expect, it } from 'vitest';
import { buildDemoCity } from '../config/demo-city.ts';
import { indexRegistry } from '../config/registry.ts';
import { admit } from './admission.ts';
import { deadLetters, rejectMessage } from './rejects.ts';

const index = indexRegistry(buildDemoCity());
const NOW = Date.parse('2026-07-01T10:00:00Z');
const at = (min: number) => new Date(NOW + min * 60_000).toISOString();
const msg = (o: unknown) => Buffer.from(JSON.stringify(o));

describe('admission', () => {
  it.each([
    ['not a reading topic', 'sensors/ponding/PD-001/status', msg({}), null],
    ['an unknown sensor', 'sensors/ponding/PD-999/reading', msg({ ts: at(0), depth_cm: 1 }), { refused: 'SENSOR_UNKNOWN' }],
    ['the wrong kind', 'sensors/rain/PD-001/reading', msg({ ts: at(0), rain_mm: 1 }), { refused: 'SENSOR_KIND_MISMATCH' }],
    ['not JSON', 'sensors/ponding/PD-001/reading', Buffer.from('{'), { refused: 'PAYLOAD_NOT_JSON' }],
    ['one good reading', 'sensors/ponding/PD-001/reading', msg({ ts: at(0), depth_cm: 3 }), { good: 1, errors: [] }],
    ['a batch: the good kept, a bad value and a far-future time refused', 'sensors/ponding/PD-001/reading', msg([{ ts: at(-2), depth_cm: 3 }, { ts: at(-1), depth_cm: -5 }, { ts: at(3 * 1440), depth_cm: 4 }]), { good: 1, errors: [1, 2] }],
  ] as const)('%s', (_name, topic, payload, want) => {
    const a = admit(topic, payload, index, NOW, 30 * 86_400_000);
    if (want === null) return expect(a).toBeNull();
    if ('refused' in want) return expect(a && 'refused' in a ? a.refused.code : undefined).toBe(want.refused);
    expect(a && 'good' in a ? { good: a.good.length, errors: [...new Set(a.errors.map((e) => e.index))] } : a).toEqual({ good: want.good, errors: want.errors });
  });

  it('says why in the reject message, and keeps one dead letter per refused reading', () => {
    const payload = msg([{ ts: at(-2), depth_cm: 3 }, { ts: at(-1), depth_cm: -5 }]);
    const a = admit('sensors/ponding/PD-001/reading', payload, index, NOW, 30 * 86_400_000)!;
    if (!('good' in a)) throw new Error('expected readings');
    const refusal = { topic: 'sensors/ponding/PD-001/reading', sensorId: 'PD-001', kind: 'ponding', code: 'PAYLOAD_INVALID' as const, reason: '1 reading(s) invalid; 1 stored', errors: a.errors, accepted: a.good.length, payload };
    expect(rejectMessage(refusal, '2026-07-01T18:00:00+08:00')).toMatchObject({ code: 'PAYLOAD_INVALID', accepted: 1, rejected: 1, errors: [{ index: 1 }] });
    expect(deadLetters(refusal)).toEqual([expect.objectContaining({ sensor: 'PD-001', code: 'PAYLOAD_INVALID', reason: expect.stringMatching(/^\[1\] depth_cm/) })]);
  });
});
