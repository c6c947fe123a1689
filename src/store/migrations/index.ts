// The ordered list of schema migrations; append only, never edit a released one.
import { sql as init } from './001-init.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: Migration[] = [{ version: 1, name: 'init', sql: init }];
