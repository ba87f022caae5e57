/** `floodgate users`. */
import { z } from 'zod';
import { command, flag } from './command.ts';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { print } from '../../lib/process.ts';
import { clientEnv } from '../env.ts';
import { ROLES } from '../../alerts/users.ts';

export const users = command({
  summary: 'add, list and remove console/API users (viewer, officer, admin)',
  usage: `floodgate users <add|list|remove> [options]

  floodgate users add NAME --role viewer|officer|admin   a new token, printed once (replaces NAME's)
  floodgate users list
  floodgate users remove NAME

Roles: viewer reads; officer also acknowledges alerts and resends failed notices; admin does
everything. Only a SHA-256 of each token is stored (DATA_DIR/api-users.json, mode 0600); a
running alerts service picks up the change within a second. The service's own token
(FLOODGATE_API_TOKEN or DATA_DIR/api.token) is an admin.

Options:
  --role R          for add
  --data-dir DIR    default $FLOODGATE_DATA_DIR or ./data`,
  options: { role: { type: 'string' }, 'data-dir': { type: 'string' } },
  flags: z.object({ role: z.enum(ROLES, { error: `must be one of ${ROLES.join(', ')}` }).optional(), 'data-dir': flag.text }),
  positionals: true,
  async run(v, positionals) {
    const { addUser, loadUsers, saveUsers } = await import('../../alerts/users.ts');
    const dir = v['data-dir'] ?? clientEnv(process.env).dataDir;
    const path = join(dir, 'api-users.json');
    const [action, name] = positionals;
    const users = loadUsers(path);
    if (action === 'list') {
      for (const u of users) print(`${u.name}\t${u.role}`);
      return;
    }
    if (!name) throw new Error(`floodgate users ${action ?? ''}: a NAME is required`);
    if (action === 'add') {
      const role = v.role;
      if (!role) throw new Error(`--role is required: one of ${ROLES.join(', ')}`);
      const r = addUser(users, name, role);
      mkdirSync(dir, { recursive: true });
      saveUsers(path, r.users);
      print(`${name} (${role}): token ${r.token}\nShown once; only its hash is stored in ${path}.`);
      return;
    }
    if (action === 'remove') {
      if (!users.some((u) => u.name === name)) throw new Error(`no user ${name}`);
      saveUsers(path, users.filter((u) => u.name !== name));
      print(`${name}: removed`);
      return;
    }
    throw new Error(`floodgate users: unknown action ${JSON.stringify(action ?? '')}; use add, list or remove`);
  },
});
