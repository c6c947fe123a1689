// The running aegis version, read once from package.json beside dist/ or src/.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export const AEGIS_VERSION: string = JSON.parse(fs.readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')).version;
