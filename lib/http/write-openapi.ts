/** Writes the OpenAPI document to a file (for `npm run docs` and the lint test): `node --import tsx lib/http/write-openapi.ts <file> [server-url]`. */
import { writeFileSync } from 'node:fs';
import { openApiDocument } from './openapi.js';

const [file, serverUrl] = process.argv.slice(2);
if (!file) {
  console.error('usage: write-openapi <file> [server-url]');
  process.exit(2);
}
writeFileSync(file, `${JSON.stringify(openApiDocument(serverUrl), null, 2)}\n`);
