/**
 * `npm run --silent token -- <support|legal|auditor> [service...]`: prints a bearer token the local API
 * accepts, bound to the services named (every service when none is: klub-outside, prism-project,
 * cluster, audiostock, metalive).
 */
import { join } from 'node:path';
import { ROLES, type Role } from '../functions/api/auth';
import { serviceIds } from '../functions/lib/services/profiles';
import { keyPaths } from '../local/stack';
import { loadTokenKey, mintToken } from '../local/auth';

const [role, ...services] = process.argv.slice(2) as [Role | undefined, ...string[]];
const known = serviceIds();
const unknown = services.filter((s) => !known.includes(s));
if (!role || !ROLES.includes(role) || unknown.length) {
  console.error(`Usage: npm run --silent token -- <${ROLES.join('|')}> [${known.join('|')} ...]`);
  if (unknown.length) console.error(`Unknown service: ${unknown.join(', ')}`);
  process.exit(2);
}
const dataDir = process.env.DSR_LOCAL_DIR ?? join(__dirname, '..', '.local');
console.log(mintToken(loadTokenKey(keyPaths(dataDir).apiToken), role, { services }));
