/**
 * Invokes one function's handler in a Node process of its own, as Lambda would: the module loaded fresh under the
 * environment given (a function name of a stage, the tables), the event from GATHER_EVENT, the answer printed as JSON on
 * the last line of stdout (the function's own log lines come before it).
 * For what only differs between functions of a stage, which the local gateway (one process for every route) cannot
 * show.
 *
 * Usage: node --import tsx test/support/invoke-function.ts functions/upsert-record.ts
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { Context } from 'aws-lambda';
import { benchContext } from '../../lib/bench/upsert-event.js';

const [entry] = process.argv.slice(2);
if (!entry || !process.env.GATHER_EVENT) throw new Error('usage: GATHER_EVENT=<json> invoke-function.ts <functions/file.ts>');
const { handler } = (await import(pathToFileURL(resolve(entry)).href)) as { handler: (event: unknown, context: Context) => Promise<unknown> };
const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'local';
const context: Context = { ...benchContext, functionName, awsRequestId: `invoke-${process.pid}` };
process.stdout.write(`\n${JSON.stringify(await handler(JSON.parse(process.env.GATHER_EVENT), context))}\n`);
