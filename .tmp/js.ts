const sensors = Array.from({ length: 20 }, (_, i) => `PD-${String(i + 1).padStart(3, '0')}`);
let seq = 0, ts = Date.now();
const tuples: any[] = [];
for (let i = 0; i < 500; i++) { seq++; ts++; tuples.push(['ponding', sensors[i % 20], ts, '长寿路下立交', '普陀区', { depth_cm: (seq % 500) / 10 }, seq]); }
const time = (name: string, f: () => unknown) => { for (let i = 0; i < 200; i++) f(); const t = process.hrtime.bigint(); for (let i = 0; i < 2000; i++) f(); console.log(name, (Number(process.hrtime.bigint() - t) / 2000 / 500 / 1000).toFixed(3), 'µs/reading'); };
time('stringify tuples', () => JSON.stringify(tuples));
time('stringify fields per reading', () => { for (const t of tuples) JSON.stringify(t[5]); });
const keys = tuples.map((t) => [t[2], t[6], JSON.stringify(t[5])]);
time('stringify keys', () => JSON.stringify(keys));
const keys2 = tuples.map((t) => [t[2], t[6], t[5]]);
time('stringify keys (fields object)', () => JSON.stringify(keys2));
time('series key template', () => { for (const t of tuples) `${t[0]}\u0000${t[1]}`; });
time('bytelength', () => Buffer.byteLength(JSON.stringify(tuples)));
const tuples2 = tuples.map((t) => [t[0], t[1], t[2], t[5], t[6]]);
time('stringify tuples w/o site,district', () => JSON.stringify(tuples2));
const tuples3 = tuples.map((t) => [t[0], t[1], t[2], 'Changshou Rd underpass', 'Putuo', t[5], t[6]]);
time('stringify tuples ascii site', () => JSON.stringify(tuples3));
