/** The reference: aedes 1.x over TCP with no hooks at all (no auth, no ACL, no limits). */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const port = Number(process.argv[2] ?? 1883);
// The same emitter concurrency as the gateway under test, so the comparison isolates the hooks.
const concurrency = Number(process.argv[3] ?? 100);
const broker = await Aedes.createBroker({ concurrency });
createServer(broker.handle).listen(port, '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));
process.on('SIGTERM', () => broker.close(() => process.exit(0)));
