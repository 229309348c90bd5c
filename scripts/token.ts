/** `npm run --silent token -- <support|legal|auditor>`: prints a bearer token the local API accepts. */
import { join } from 'node:path';
import { ROLES, type Role } from '../functions/api/auth';
import { keyPaths } from '../local/stack';
import { loadTokenKey, mintToken } from '../local/auth';

const role = process.argv[2] as Role | undefined;
if (!role || !ROLES.includes(role)) {
  console.error(`Usage: npm run --silent token -- <${ROLES.join('|')}>`);
  process.exit(2);
}
const dataDir = process.env.DSR_LOCAL_DIR ?? join(__dirname, '..', '.local');
console.log(mintToken(loadTokenKey(keyPaths(dataDir).apiToken), role));
