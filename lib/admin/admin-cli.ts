/**
 * The admin CLI (`npm run admin -- ...`), built on commander: workspaces and API keys. Every command has `--help`,
 * takes `--json` for scripts, and exits non-zero on any error with a message on stderr.
 */
import { Command, CommanderError, Option } from 'commander';
import stringWidth from 'string-width';
import { containsApiKey } from '../auth/api-key.js';
import { allScopes, isScope, type Scope } from '../auth/scopes.js';
import { AdminError, type AdminErrorCode } from '../store/api-key-store.js';
import { networkFailureCode } from '../store/map-dynamodb-error.js';
import { notBlank, refuseRepeatedOptions } from '../cli-options.js';
import { clipped, printable, terminalHazards } from '../terminal-text.js';
import { notRecordsTable, type AdminTarget, type TargetOptions } from './admin-target.js';
import type { UsagePlanRegistrar } from './usage-plan.js';

export interface AdminIo {
  out(text: string): void;
  err(text: string): void;
}

export interface AdminDependencies {
  readonly connect: (options: TargetOptions) => AdminTarget;
  readonly io: AdminIo;
  /** API Gateway, for `--usage-plan` on a deployed stage. */
  readonly usagePlans: (region?: string) => UsagePlanRegistrar;
}

interface GlobalOptions extends TargetOptions {
  readonly json?: boolean;
}

export function parseScopeList(value: string): Scope[] {
  const scopes = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (scopes.length === 0) throw new AdminError(`--scopes needs at least one of ${allScopes.join(', ')}`);
  const unknown = scopes.filter((s) => !isScope(s));
  if (unknown.length > 0) {
    // `--scopes "records:read records:write"`: the list is one argument, its scopes joined by commas.
    const spaced = unknown.some((scope) => /\s/.test(scope) && scope.split(/\s+/).every(isScope));
    throw new AdminError(
      `Unknown scope${unknown.length > 1 ? 's' : ''} ${unknown.map((scope) => clipped(scope, 40)).join(', ')}: use ${allScopes.join(', ')}` + (spaced ? ', separated by commas (records:read,records:write)' : ''),
    );
  }
  return [...new Set(scopes)] as Scope[];
}

/**
 * Rows as a table for the terminal. A key name stored before key names were checked may hold a character of
 * lib/terminal-text.ts's list: each cell is shown through `printable`.
 */
function table(rows: Record<string, unknown>[], columns: string[]): string {
  const cells = [
    columns,
    ...rows.map((row) => columns.map((c) => printable(row[c] === null || row[c] === undefined ? '-' : Array.isArray(row[c]) ? (row[c] as unknown[]).join(',') : String(row[c])))),
  ];
  // Padded by the columns a terminal gives each cell (wide CJK and emoji take two, combining marks none), not by
  // UTF-16 code units, so a key named in Japanese or with an emoji keeps the columns after it aligned.
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => stringWidth(r[i]!))));
  return cells.map((r) => r.map((cell, i) => cell + ' '.repeat(widths[i]! - stringWidth(cell))).join('  ').trimEnd()).join('\n');
}

/**
 * DynamoDB's messages for a request whose key does not fit the table's key schema: AWS's "The provided key element does
 * not match the schema", and DynamoDB Local's own for queries and writes.
 */
const wrongKeySchema = /does not match the schema|key schema|required keys|conditions on the keys|Missing the key/i;

/** AWS's refusals of the caller: no credentials, or credentials it does not take or that may not use the table. */
const refusedCallerNames = new Set([
  'CredentialsProviderError',
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'MissingAuthenticationTokenException',
]);

/**
 * What to change when the table could not be used: it is not there, there is no region to look for it in, or DynamoDB
 * could not be reached at all (the store's calls; API Gateway's failures are said where they happen). Any other error
 * as it came.
 */
function explainedTargetFailure(error: unknown, options: GlobalOptions, description: string | undefined): unknown {
  const { name, message } = error as { name?: string; message?: string };
  if (typeof message === 'string' && /^Region is missing$|^Region not accepted/.test(message)) {
    return new AdminError('No AWS region for --table: give --region <region>, or set AWS_REGION', 'table_unavailable');
  }
  if (message === 'Invalid URL' && options.endpoint !== undefined) return new AdminError(`--endpoint "${clipped(options.endpoint)}" is not a URL (http://host:port)`);
  if (typeof name === 'string' && refusedCallerNames.has(name)) {
    return new AdminError(
      `AWS refused the admin CLI's request${description !== undefined ? ` to ${description}` : ''} (${name}: ${message}): check the credentials (AWS_PROFILE, or the AWS_* variables) and that they may use the table`,
      'aws_credentials',
    );
  }
  if (description === undefined) return error;
  // An answer that is not DynamoDB's (the API's own URL given as --endpoint, say): the SDK calls it Unknown.
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (status !== undefined && (name === 'Unknown' || message === 'UnknownError')) {
    const hint =
      options.endpoint !== undefined
        ? 'check --endpoint'
        : options.table === undefined
          ? 'another program holds the port its dev.json names; start the local stack again with "npm start"'
          : 'check the region and any proxy between here and AWS';
    return new AdminError(`${description} did not answer as DynamoDB does (HTTP ${status}): ${hint}`, 'table_unavailable');
  }
  // Another table of the stage (the Idempotency-Key table, keyed by id alone), or another application's, found only by
  // DynamoDB refusing a request's key when the table could not be described first (a role that may not): its words
  // for it say nothing about --table.
  if (name === 'ValidationException' && typeof message === 'string' && wrongKeySchema.test(message)) return notRecordsTable(description, options);
  if (name === 'ResourceNotFoundException') {
    return new AdminError(`${description} does not exist${options.table !== undefined ? ": check --table (the stack's TableName output) and the region" : ''}`, 'table_unavailable');
  }
  const reason = networkFailureCode(error);
  if (reason === undefined) return error;
  return new AdminError(
    `Could not reach ${description} (${reason})` +
      // The hint is about the DynamoDB Local that dev.json names, not an endpoint given here.
      (options.table === undefined && options.endpoint === undefined
        ? ': its DynamoDB Local is not answering. If its "npm start" still runs, it has said so (DynamoDB Local stopped):' +
          ' stop it with Ctrl-C and start it again; one stopped without Ctrl-C leaves its dev.json behind, so start it again'
        : ''),
    'table_unavailable',
  );
}

/**
 * Whether the command line asked for JSON, which decides how a failure is printed. Taken from the words of the command
 * line (those before a `--`), not from what commander parsed, since commander may stop at a mistake before it reaches a
 * later `--json`. A key named `--json` is given as `--name=--json`, one word.
 */
export interface AdminOutput {
  json: boolean;
}

/** An error or warning as `--json` prints it on stderr: one line a script can parse. */
const jsonLine = (kind: 'error' | 'warning', fields: { code?: string; message: string }) => JSON.stringify({ [kind]: fields });

export function buildAdminProgram(deps: AdminDependencies, output: AdminOutput = { json: false }): Command {
  const { io } = deps;
  const program = new Command('admin')
    .description('Manage Gather workspaces and API keys (the local stack by default, a deployed stage with --table)')
    .addOption(new Option('--table <name>', "a deployed stage's DynamoDB table (the stack's TableName output)").argParser(notBlank("the stage's table name")))
    .addOption(new Option('--region <region>', 'AWS region of --table (default: AWS_REGION)').argParser(notBlank('a region, such as eu-west-1')))
    .addOption(new Option('--endpoint <url>', 'DynamoDB endpoint override').argParser(notBlank('a URL (http://host:port)')))
    .addOption(new Option('--data-dir <dir>', 'where the local stack keeps dev.json (default: DATA_DIR or .data)').argParser(notBlank('a directory')))
    .option('--json', 'print JSON for scripts')
    .showHelpAfterError()
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, '')),
      // commander's own errors (an unknown option, a missing argument) and the help after them: with --json, runAdmin
      // prints the error as one JSON line instead. They quote what was typed, each line shown and cut short.
      writeErr: (s) => (output.json ? undefined : io.err(s.replace(/\n$/, '').split('\n').map((line) => printable(clipped(line, 300))).join('\n'))),
    })
    .exitOverride();

  const withTarget = async (command: Command, run: (target: AdminTarget, options: GlobalOptions) => Promise<void>) => {
    const options = command.optsWithGlobals<GlobalOptions>();
    let target: AdminTarget | undefined;
    try {
      // The SDK refuses an empty region as it builds the client, and finds none only when it sends.
      target = deps.connect(options);
      await target.check?.();
      await run(target, options);
    } catch (error) {
      throw explainedTargetFailure(error, options, target?.description);
    } finally {
      target?.close();
    }
  };
  /**
   * Usage plans belong to a deployed stage; the local stack has none (creating a workspace there would fail only after
   * making it, and attaching one failed in API Gateway's SDK with "Region is missing"). Checked before connecting.
   */
  const requireStage = (command: Command, what: string) => {
    if (!command.optsWithGlobals<GlobalOptions>().table) {
      throw new AdminError(`${what} adds the workspace to a deployed stage's usage plan: give that stage's table with --table`);
    }
  };
  const print = (options: GlobalOptions, json: unknown, text: string) => io.out(options.json ? JSON.stringify(json, null, 2) : text);

  const workspace = program.command('workspace').description('create and list workspaces (one per client company)');
  workspace
    .command('create <id>')
    .description('create a workspace; ids are lower-case letters, digits and dashes')
    .option('--usage-plan <id>', "on a deployed stage: add the workspace to the stage's usage plan (the UsagePlanId output)")
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { usagePlan?: string }, command: Command) => {
      if (opts.usagePlan !== undefined) requireStage(command, '--usage-plan');
      return withTarget(command, async ({ store }, options) => {
        const created = await store.createWorkspace(id);
        let registered: { apiKeyId: string } | undefined;
        try {
          registered = opts.usagePlan ? await deps.usagePlans(options.region).register(id, created.usageKey, opts.usagePlan) : undefined;
        } catch (error) {
          // The workspace exists now, so running the same command again would only say so: say how to finish instead.
          throw new AdminError(
            `Workspace ${created.id} was created, but adding it to usage plan ${opts.usagePlan} failed (${(error as Error).message}); ` +
              `once that is fixed, run: admin --table ${options.table}${options.region ? ` --region ${options.region}` : ''}${options.endpoint ? ` --endpoint ${options.endpoint}` : ''} ` +
              `workspace attach-usage-plan ${created.id} --usage-plan ${opts.usagePlan}`,
            'usage_plan_failed',
          );
        }
        // On a deployed stage API Gateway refuses (403) every request of a workspace outside the stage's usage plan.
        if (options.table !== undefined && !registered) {
          const warning =
            `workspace ${created.id} is in no usage plan, so a deployed stage refuses its keys with 403 until you run: ` +
            `admin --table ${options.table} workspace attach-usage-plan ${created.id} --usage-plan <UsagePlanId output>`;
          io.err(options.json ? jsonLine('warning', { message: warning }) : `warning: ${warning}`);
        }
        print(
          options,
          { id: created.id, created_at: created.created_at, ...(registered ? { usage_plan: opts.usagePlan, api_key_id: registered.apiKeyId } : {}) },
          `Created workspace ${created.id}${registered ? ` (in usage plan ${opts.usagePlan})` : ''}`,
        );
      });
    });
  workspace
    .command('attach-usage-plan <id>')
    .description("add an existing workspace to a deployed stage's usage plan (safe to repeat)")
    .requiredOption('--usage-plan <id>', "the stage's UsagePlanId output")
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { usagePlan: string }, command: Command) => {
      requireStage(command, 'attach-usage-plan');
      return withTarget(command, async ({ store }, options) => {
        const usageKey = await store.usageKeyOf(id);
        if (usageKey === undefined) throw new AdminError(`Workspace "${id}" does not exist`, 'workspace_not_found');
        if (usageKey === '') throw new AdminError(`Workspace "${id}" has no usage key`, 'usage_plan_failed');
        let registered: { apiKeyId: string };
        try {
          registered = await deps.usagePlans(options.region).register(id, usageKey, opts.usagePlan);
        } catch (error) {
          // API Gateway's failure, said as such (not taken for the table's).
          throw new AdminError(`Adding workspace ${id} to usage plan ${opts.usagePlan} failed in API Gateway: ${(error as Error).message}`, 'usage_plan_failed');
        }
        print(options, { id, usage_plan: opts.usagePlan, api_key_id: registered.apiKeyId }, `Workspace ${id} is in usage plan ${opts.usagePlan}`);
      });
    });
  workspace
    .command('list')
    .description('list every workspace')
    .option('--json', 'print JSON')
    .action(async (_opts: unknown, command: Command) =>
      withTarget(command, async ({ store }, options) => {
        const workspaces = await store.listWorkspaces();
        print(options, workspaces, workspaces.length === 0 ? 'No workspaces yet' : table(workspaces as unknown as Record<string, unknown>[], ['id', 'created_at']));
      }),
    );

  workspace
    .command('migrate')
    .description("move every workspace of a table written by an older version to the current layout (safe to repeat)")
    .option('--json', 'print JSON')
    .action(async (_opts: unknown, command: Command) =>
      withTarget(command, async ({ store }, options) => {
        const { workspaces, moved, skipped } = await store.moveAllToCurrentLayout();
        print(
          options,
          { workspaces, keys_moved: moved, listings_skipped: skipped },
          workspaces === 0
            ? 'Every workspace is in the current layout already'
            : `Moved ${workspaces} workspace${workspaces === 1 ? '' : 's'} and ${moved} key listing${moved === 1 ? '' : 's'} to the current layout` +
                (skipped > 0 ? `; left ${skipped} listing item${skipped === 1 ? '' : 's'} that no key of its workspace matches` : ''),
        );
      }),
    );

  const token = program.command('token').description('create, list and revoke API keys');
  const maxKeyNameLength = 200;
  token
    .command('create')
    .description('create an API key; it is printed once and never stored')
    .requiredOption('--workspace <id>', 'the workspace the key belongs to')
    .requiredOption('--scopes <list>', `comma-separated scopes: ${allScopes.join(',')}`)
    .option('--name <label>', `a label to recognise the key by (1 to ${maxKeyNameLength} characters; no control characters, line separators or bidirectional controls)`)
    .option('--json', 'print JSON')
    .action(async (opts: { workspace: string; scopes: string; name?: string }, command: Command) => {
      const scopes = parseScopeList(opts.scopes);
      // `token list` prints names in a table on an operator's terminal: no newline, tab or escape sequence gets there.
      if (opts.name !== undefined && ([...opts.name].length < 1 || [...opts.name].length > maxKeyNameLength || terminalHazards.test(opts.name))) {
        throw new AdminError(`--name must be 1 to ${maxKeyNameLength} characters without control characters, line separators or bidirectional controls`);
      }
      await withTarget(command, async ({ store }, options) => {
        const created = await store.createApiKey({ workspace: opts.workspace, scopes, ...(opts.name !== undefined ? { name: opts.name } : {}) });
        print(
          options,
          { id: created.tokenId, workspace: created.workspace, name: created.name, scopes: created.scopes, created_at: created.createdAt, prefix: created.prefix, key: created.key },
          [
            `Created key ${created.tokenId} for workspace ${created.workspace} (scopes ${created.scopes.join(',')})`,
            '',
            `  ${created.key}`,
            '',
            'Store it now: it is shown only this once. Send it as "Authorization: Token <key>".',
          ].join('\n'),
        );
      });
    });
  token
    .command('list')
    .description('list the keys of a workspace (never the keys themselves)')
    .requiredOption('--workspace <id>', 'the workspace')
    .option('--json', 'print JSON')
    .action(async (opts: { workspace: string }, command: Command) =>
      withTarget(command, async ({ store }, options) => {
        const tokens = await store.listTokens(opts.workspace);
        print(
          options,
          tokens,
          tokens.length === 0
            ? `Workspace ${opts.workspace} has no keys`
            : table(tokens as unknown as Record<string, unknown>[], ['id', 'name', 'scopes', 'prefix', 'created_at', 'last_used_at', 'revoked_at']),
        );
      }),
    );
  token
    .command('revoke <token-id>')
    .description('revoke a key by its token id (as shown by create and list)')
    .option('--json', 'print JSON')
    .action(async (tokenId: string, _opts: unknown, command: Command) =>
      withTarget(command, async ({ store }, options) => {
        const revoked = await store.revokeToken(tokenId);
        print(
          options,
          { id: revoked.tokenId, workspace: revoked.workspace, revoked_at: revoked.revokedAt },
          `Revoked ${revoked.tokenId} (workspace ${revoked.workspace}). API Gateway may still accept it until its authorizer cache expires (the stage's TTL, 60 s by default).`,
        );
      }),
    );
  return refuseRepeatedOptions(program);
}

/** Runs the CLI and returns its exit code: 0 on success, 1 on any error. */
export async function runAdmin(argv: readonly string[], deps: AdminDependencies): Promise<number> {
  // A `--json` after `--` is an argument (a workspace id), not the option.
  const options = argv.indexOf('--') >= 0 ? argv.slice(0, argv.indexOf('--')) : argv;
  const output: AdminOutput = { json: options.includes('--json') };
  // A message may quote what was typed (a workspace id) or what a server answered: shown, never obeyed.
  const fail = (code: AdminErrorCode | 'unexpected_error', message: string) => {
    const shown = printable(clipped(message, 1000));
    deps.io.err(output.json ? jsonLine('error', { code, message: shown }) : `error: ${shown}`);
    return 1;
  };
  // No command takes a key, and an error message that quotes its argument would put one pasted by mistake into a
  // terminal's scrollback or a CI log: refused before parsing, without a word of it.
  const withKey = argv.findIndex((argument) => containsApiKey(argument));
  if (withKey >= 0) {
    return fail(
      'invalid_argument',
      `argument ${withKey + 1} holds an API key (gth_...), which the admin CLI never takes: name a key by its token id (tok_...), which "token list --workspace <id>" shows. ` +
        'If the key was pasted somewhere others can see, revoke it.',
    );
  }
  const program = buildAdminProgram(deps, output);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0;
      // Printed by commander already, unless --json held it back. A command line without its command gets the help,
      // which commander's error calls "(outputHelp)".
      const message = error.code === 'commander.help' ? 'a command is missing: run with --help to see the commands' : error.message.replace(/^error: /, '');
      return output.json ? fail('invalid_argument', message) : 1;
    }
    if (error instanceof AdminError) return fail(error.code, error.message);
    return fail('unexpected_error', (error as Error).message ?? String(error));
  }
}
