import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, where lib/routes.ts entries are relative to. */
export const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
