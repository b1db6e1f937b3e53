/** The admin CLI as an operator uses it: `npm run admin -- ...` against the local stack, and against a named table. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { adminCli, call, devDataDir, devStack, keyStore, unique } from '../support/api-client.js';
import stringWidth from 'string-width';
import { CreateTableCommand, DeleteTableCommand, ScanCommand, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { ApiKeyStore } from '../../lib/store/api-key-store.js';
import { createDocumentClient, createDynamoDbClient } from '../../lib/store/dynamodb-client.js';
import { idempotencyTableName } from '../../lib/store/table-definition.js';

describe('npm run admin', () => {
  const workspace = unique('acme');

  // The workspace the key tests below share, made before them, so that each of them also runs alone (-t).
  beforeAll(async () => {
    expect((await adminCli(['workspace', 'create', workspace])).code).toBe(0);
  });

  it('creates a workspace, refuses a duplicate, and lists it', async () => {
    const made = unique('created');
    const created = await adminCli(['workspace', 'create', made]);
    expect(created).toMatchObject({ code: 0, stdout: `Created workspace ${made}\n` });
    const duplicate = await adminCli(['workspace', 'create', made]);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain(`Workspace "${made}" already exists`);
    const list = await adminCli(['workspace', 'list', '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual(expect.arrayContaining([{ id: made, created_at: expect.any(String) }]));
  });

  it('reads a relative --data-dir from the directory npm run was typed in', async () => {
    const dataDir = devDataDir();
    const relative = await adminCli(['--data-dir', basename(dataDir), 'workspace', 'list', '--json'], { DATA_DIR: '/nonexistent', INIT_CWD: dirname(dataDir) });
    expect(relative.code).toBe(0);
    // The shared stack's own workspace: found through dev.json in that directory.
    expect(JSON.parse(relative.stdout)).toEqual(expect.arrayContaining([{ id: 'dev', created_at: expect.any(String) }]));
  });

  it('refuses any argument that holds an API key, and never prints a word of it', async () => {
    // A workspace of its own: the shared one's keys are listed exactly below.
    const own = unique('pasted');
    expect((await adminCli(['workspace', 'create', own])).code).toBe(0);
    const created = await adminCli(['token', 'create', '--workspace', own, '--scopes', 'records:read', '--json']);
    const { key } = JSON.parse(created.stdout) as { key: string };
    const pasted = [
      ['token', 'revoke', key],
      ['token', 'revoke', `Token ${key}`],
      ['token', 'revoke', `API_KEY=${key}`],
      ['token', 'revoke', `'${key}'`],
      ['token', 'revoke', key.slice(0, 20)],
      ['token', 'revoke', key.slice('gth_'.length)],
      ['workspace', 'create', key.slice('gth_'.length)],
      ['token', 'list', '--workspace', key],
      ['workspace', 'create', key],
      ['token', 'create', '--workspace', own, '--scopes', 'records:read', '--name', `ci ${key}`],
      ['token', 'list', `--${key}`],
    ];
    for (const args of pasted) {
      const result = await adminCli(args);
      expect([args.length, result.code]).toEqual([args.length, 1]);
      expect(result.stderr).toMatch(/holds an API key \(gth_\.\.\.\), which the admin CLI never takes/);
      // Nothing past the prefix that token list shows (gth_ and four characters).
      expect(`${result.stdout}${result.stderr}`).not.toContain(key.slice(4, 9));
    }
    // And nothing was made: no key is named after one. A name that merely starts like a key is fine.
    expect((await adminCli(['token', 'create', '--workspace', own, '--scopes', 'records:read', '--name', 'gth_export'])).code).toBe(0);
    const listed = JSON.parse((await adminCli(['token', 'list', '--workspace', own, '--json'])).stdout) as { name: string }[];
    expect(listed.map(({ name }) => name)).toEqual(expect.arrayContaining([null, 'gth_export']));
    expect(listed).toHaveLength(2);
  });

  it('refuses a workspace id that is not lower-case letters, digits and dashes', async () => {
    const result = await adminCli(['workspace', 'create', 'Not_Valid']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/lower-case letters, digits and dashes/);
    // So does commander's own error for an option it does not know.
    const option = await adminCli([`--x\u001b[2J\u001b[31mRED${'y'.repeat(1000)}`, 'workspace', 'list']);
    expect(option.code).toBe(1);
    expect(option.stderr).toMatch(/^error: unknown option '--x\uFFFD\[2J\uFFFD\[31mREDy+…/);
    expect(option.stderr).not.toContain('\u001b');
    expect(option.stderr.split('\n')[0]!.length).toBeLessThan(310);
    // An id that would drive the terminal (clear the screen, turn it red) or fill it: echoed cut short, and shown.
    for (const id of ['acme\u001b[2J\u001b[31mOWNED', 'x\ny', 'a'.repeat(5000)]) {
      const refused = await adminCli(['workspace', 'create', id]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/lower-case letters, digits and dashes/);
      expect(refused.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
      expect(refused.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(refused.stderr.length).toBeLessThan(300);
    }
  });

  it('refuses a key name that would garble token list: control characters, or over 200 characters', async () => {
    for (const name of ['evil\nname', 'tab\there', '\u001b[31mRED', 'x'.repeat(201), '', 'abc\u202Efed', 'line\u2028break']) {
      const result = await adminCli(['token', 'create', '--workspace', workspace, '--scopes', 'records:read', '--name', name]);
      expect([JSON.stringify(name), result.code]).toEqual([JSON.stringify(name), 1]);
      expect(result.stderr).toMatch(/--name must be 1 to 200 characters without control characters, line separators or bidirectional controls/);
      expect(result.stdout).not.toMatch(/gth_/);
    }
    // The key list of the shared workspace is checked exactly below, so the accepted name goes to a workspace of its own.
    const own = unique('names');
    expect((await adminCli(['workspace', 'create', own])).code).toBe(0);
    // Joiners stay: Persian words and emoji sequences need them.
    for (const name of ['ünïcode — fine', 'می\u200cخواهم', '👩\u200d💻 laptop']) {
      expect([name, (await adminCli(['token', 'create', '--workspace', own, '--scopes', 'records:read', '--name', name])).code]).toEqual([name, 0]);
    }
    // A name stored before names were checked is listed with its control characters shown as U+FFFD.
    const { store, close } = keyStore();
    try {
      await store.createApiKey({ workspace: own, scopes: ['records:read'], name: 'old\u001b[31m\nname' });
    } finally {
      close();
    }
    const listed = await adminCli(['token', 'list', '--workspace', own]);
    expect(listed.stdout).toContain('old\uFFFD[31m\uFFFDname');
    expect(listed.stdout).not.toContain('\u001b');
    // The scopes column starts at the same terminal column on every line, whatever the names before it: the emoji
    // sequence (two columns), the Persian joiner (none) and the accented letters (one each) are counted as shown.
    const scopesAt = listed.stdout
      .trimEnd()
      .split('\n')
      .map((line) => stringWidth(line.slice(0, line.search(/scopes|records:read/))));
    expect(scopesAt).toHaveLength(5);
    expect(new Set(scopesAt).size).toBe(1);
  });

  it('creates a key that works, shows it once, and lists it without the key', async () => {
    const created = await adminCli(['token', 'create', '--workspace', workspace, '--scopes', 'records:read,records:write', '--name', 'crm sync', '--json']);
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout);
    expect(key).toEqual({
      id: expect.stringMatching(/^tok_/),
      workspace,
      name: 'crm sync',
      scopes: ['records:read', 'records:write'],
      created_at: expect.any(String),
      prefix: key.key.slice(0, 8),
      key: expect.stringMatching(/^gth_/),
    });
    expect((await call('POST', '/models/account/records', { json: { name: 'via cli key' }, token: key.key })).status).toBe(201);

    const list = await adminCli(['token', 'list', '--workspace', workspace, '--json']);
    expect(list.code).toBe(0);
    expect(list.stdout).not.toContain(key.key);
    expect(list.stdout).not.toContain(key.key.slice(8));
    expect(JSON.parse(list.stdout)).toEqual([
      {
        id: key.id,
        name: 'crm sync',
        scopes: ['records:read', 'records:write'],
        created_at: key.created_at,
        last_used_at: expect.any(String),
        prefix: key.prefix,
        revoked_at: null,
      },
    ]);
    const text = await adminCli(['token', 'list', '--workspace', workspace]);
    expect(text.stdout).toContain(key.id);
    expect(text.stdout).not.toContain(key.key);
  });

  it.each([
    [['token', 'create', '--workspace', 'no-such-workspace', '--scopes', 'records:read'], /Workspace "no-such-workspace" does not exist/],
    [['token', 'create', '--workspace', 'dev', '--scopes', 'records:read,records:destroy'], /Unknown scope records:destroy/],
    [['token', 'create', '--workspace', 'dev', '--scopes', ''], /at least one of/],
    [['token', 'create', '--scopes', 'records:read'], /required option '--workspace <id>'/],
    [['token', 'list', '--workspace', 'no-such-workspace'], /Workspace "no-such-workspace" does not exist/],
    // An id no workspace can have is said to be one, not to be missing.
    [['token', 'create', '--workspace', '', '--scopes', 'records:read'], /Workspace ids are 1 to 63 lower-case letters.*"" is not one/],
    [['token', 'list', '--workspace', 'Acme'], /Workspace ids are 1 to 63 lower-case letters.*"Acme" is not one/],
    // Scopes in one argument, but separated by a space instead of a comma.
    [['token', 'create', '--workspace', 'dev', '--scopes', 'records:read models:write'], /Unknown scope records:read models:write: use .*, separated by commas/],
    [['token', 'revoke', 'tok_0000000000000000'], /No key has the token id "tok_0000000000000000"/],
    [['token', 'revoke', 'tok_doesnotexist'], /"tok_doesnotexist" is not a token id/],
    [['token', 'revoke', `tok_${'x'.repeat(3000)}`], /"tok_x{36}…" is not a token id/],
    [['workspace', 'rename', 'x'], /unknown command 'rename'/],
    // Commander would keep the last of two: the key in another workspace than the first named, or with fewer scopes.
    [['token', 'create', '--workspace', 'dev', '--workspace', 'no-such-workspace', '--scopes', 'records:read'], /option '--workspace' was given more than once/],
    [['token', 'create', '--workspace', 'dev', '--scopes', 'records:read', '--scopes=models:write'], /option '--scopes' was given more than once/],
    [['--data-dir', '.data', '--data-dir', '/elsewhere', 'workspace', 'list'], /option '--data-dir' was given more than once/],
    // An empty value (`--table "$TABLE"` with TABLE unset) is refused, never taken as the option left out: the command
    // would have worked on the local stack.
    [['--table', '', 'workspace', 'create', unique('blank-table')], /option '--table <name>' argument '' is invalid\. Give the stage's table name, or leave the option out/],
    [['--endpoint', '', 'workspace', 'list'], /option '--endpoint <url>' argument '' is invalid\. Give a URL/],
    [['--table', 'Gather-dev-RecordsTable', '--region', ' ', 'workspace', 'list'], /option '--region <region>' argument ' ' is invalid\. Give a region/],
    [['--data-dir', '', 'token', 'list', '--workspace', 'dev'], /option '--data-dir <dir>' argument '' is invalid\. Give a directory/],
  ])('fails clearly: %j', async (args, message) => {
    const result = await adminCli(args);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).not.toMatch(/gth_/);
  });

  it('prints a failure under --json as one JSON line on stderr, with a code a script can act on', async () => {
    const existing = unique('json');
    expect((await adminCli(['workspace', 'create', existing])).code).toBe(0);
    const made = JSON.parse((await adminCli(['token', 'create', '--workspace', existing, '--scopes', 'records:read', '--json'])).stdout) as { id: string };
    expect((await adminCli(['token', 'revoke', made.id])).code).toBe(0);
    const cases: [string[], string, RegExp][] = [
      [['workspace', 'create', existing, '--json'], 'workspace_exists', /already exists/],
      [['--json', 'token', 'list', '--workspace', unique('absent')], 'workspace_not_found', /does not exist/],
      [['token', 'revoke', 'tok_AAAAAAAAAAAAAAAA', '--json'], 'token_not_found', /No key has the token id/],
      [['token', 'revoke', made.id, '--json'], 'token_already_revoked', /already revoked/],
      [['token', 'create', '--workspace', existing, '--scopes', 'records:delete', '--json'], 'invalid_argument', /Unknown scope records:delete/],
      // commander's own mistakes, one of them found before commander reaches the --json after it.
      [['workspace', 'list', '--bogus', '--json'], 'invalid_argument', /unknown option '--bogus'/],
      [['--table', '', 'workspace', 'list', '--json'], 'invalid_argument', /argument '' is invalid/],
      [['--endpoint', 'http://127.0.0.1:1', 'workspace', 'list', '--json'], 'table_unavailable', /ECONNREFUSED/],
      // No command: commander shows the help, which --json holds back, and says what is missing.
      [['--json'], 'invalid_argument', /^a command is missing: run with --help to see the commands$/],
      [['workspace', '--json'], 'invalid_argument', /^a command is missing/],
    ];
    for (const [args, code, message] of cases) {
      const result = await adminCli(args);
      expect([args, result.code, result.stdout]).toEqual([args, 1, '']);
      const lines = result.stderr.trimEnd().split('\n');
      expect([args, lines.length]).toEqual([args, 1]);
      expect([args, JSON.parse(lines[0]!)]).toEqual([args, { error: { code, message: expect.stringMatching(message) } }]);
    }
    // Without --json, the same failure is a line of text; so is one whose `--json` comes after `--`, as an argument.
    const text = await adminCli(['workspace', 'create', existing]);
    expect(text.stderr.trim()).toBe(`error: Workspace "${existing}" already exists`);
    const argument = await adminCli(['workspace', 'create', '--', '--json']);
    expect([argument.code, argument.stderr]).toEqual([1, expect.stringMatching(/^error: Workspace ids are 1 to 63 lower-case letters.*"--json" is not one\n$/)]);
  });

  it("lists a workspace's keys oldest first, not in the order of their random token ids", async () => {
    const { dynamodbEndpoint, tableName } = devStack();
    const raw = createDynamoDbClient({ endpoint: dynamodbEndpoint });
    const owner = unique('ordered');
    // One second apart, as keys made one by one are.
    let now = Date.parse('2026-12-01T00:00:00.000Z');
    const store = new ApiKeyStore(createDocumentClient(raw), tableName, () => new Date((now += 1000)));
    const names = Array.from({ length: 8 }, (_, i) => `key ${i + 1}`);
    try {
      await store.createWorkspace(owner);
      for (const name of names) await store.createApiKey({ workspace: owner, scopes: ['records:read'], name });
    } finally {
      raw.destroy();
    }
    const listed = await adminCli(['token', 'list', '--workspace', owner, '--json']);
    expect((JSON.parse(listed.stdout) as { name: string }[]).map((key) => key.name)).toEqual(names);
    const table = await adminCli(['token', 'list', '--workspace', owner]);
    expect(table.stdout.split('\n').slice(1, -1).map((line) => /key \d/.exec(line)?.[0])).toEqual(names);
  });

  it('revokes a key once, and refuses to revoke it again', async () => {
    const created = JSON.parse((await adminCli(['token', 'create', '--workspace', workspace, '--scopes', 'records:read', '--json'])).stdout);
    // Made without --name: no name (null), not an empty one, which --name itself refuses.
    expect(created.name).toBeNull();
    const keys = JSON.parse((await adminCli(['token', 'list', '--workspace', workspace, '--json'])).stdout) as { id: string; name: unknown }[];
    expect(keys.find((key) => key.id === created.id)?.name).toBeNull();
    const revoked = await adminCli(['token', 'revoke', created.id, '--json']);
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.stdout)).toEqual({ id: created.id, workspace, revoked_at: expect.any(String) });
    const again = await adminCli(['token', 'revoke', created.id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already revoked');
    // Never used, so never cached by the gateway: refused at once, while a key of the same workspace made after it
    // (and not revoked) is taken for the same request.
    expect((await call('GET', '/models/account/records/x', { token: created.key })).status).toBe(401);
    const kept = JSON.parse((await adminCli(['token', 'create', '--workspace', workspace, '--scopes', 'records:read', '--json'])).stdout);
    expect((await call('GET', '/models/account/records/x', { token: kept.key })).body).toMatchObject({ error: { code: 'record_not_found' } });
    const listed = JSON.parse((await adminCli(['token', 'list', '--workspace', workspace, '--json'])).stdout);
    expect(listed.find((t: { id: string }) => t.id === created.id).revoked_at).toBe(JSON.parse(revoked.stdout).revoked_at);
  });

  it('works on a named table through the same store code (as on a deployed stage)', async () => {
    const { tableName, dynamodbEndpoint } = devStack();
    const other = unique('staged');
    const result = await adminCli(['--table', tableName, '--endpoint', dynamodbEndpoint, '--region', 'local', 'workspace', 'create', other], { DATA_DIR: '/nonexistent' });
    expect(result).toMatchObject({ code: 0, stdout: `Created workspace ${other}\n` });
    // Without --usage-plan a deployed stage would refuse the workspace's keys: the operator is told how to fix it.
    expect(result.stderr).toMatch(new RegExp(`warning: workspace ${other} is in no usage plan.*workspace attach-usage-plan ${other} --usage-plan`));
    // Under --json the warning is a JSON line too, and the answer on stdout is JSON.
    const another = unique('staged');
    const json = await adminCli(['--table', tableName, '--endpoint', dynamodbEndpoint, '--region', 'local', 'workspace', 'create', another, '--json'], { DATA_DIR: '/nonexistent' });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ id: another, created_at: expect.any(String) });
    expect(JSON.parse(json.stderr)).toEqual({ warning: { message: expect.stringMatching(`^workspace ${another} is in no usage plan`) } });
    const local = await adminCli(['workspace', 'create', unique('local')]);
    expect([local.code, local.stderr]).toEqual([0, '']);
    const withoutStack = await adminCli(['workspace', 'list'], { DATA_DIR: '/nonexistent' });
    expect(withoutStack.code).toBe(1);
    // A stack started with another DATA_DIR is there: the message says how to find it.
    expect(withoutStack.stderr.trim()).toBe(
      'error: no local stack found (/nonexistent/dev.json does not exist): start it with "npm start"; for one started with another DATA_DIR, ' +
        "run this with the same DATA_DIR (or --data-dir <dir>); or name a deployed stage's table with --table <name>",
    );
  });

  it('says what to change when the named table is missing, when it has no region, or when the endpoint given does not answer', async () => {
    const { dynamodbEndpoint } = devStack();
    const missing = await adminCli(['--table', 'no-such-table', '--endpoint', dynamodbEndpoint, '--region', 'local', 'workspace', 'list']);
    expect([missing.code, missing.stderr.trim()]).toEqual([1, `error: table no-such-table at ${dynamodbEndpoint} does not exist: check --table (the stack's TableName output) and the region`]);
    // No region anywhere the SDK looks (the environment, the shared config file).
    const noRegion = await adminCli(['--table', 'Gather-prod-RecordsTable', 'workspace', 'list'], { AWS_REGION: '', AWS_DEFAULT_REGION: '', AWS_CONFIG_FILE: '/nonexistent', AWS_PROFILE: '' });
    expect([noRegion.code, noRegion.stderr.trim()]).toEqual([1, 'error: No AWS region for --table: give --region <region>, or set AWS_REGION']);
    // An endpoint that is no DynamoDB (the API's own URL, an easy mistake), or no URL at all.
    const notDynamo = await adminCli(['--table', 'Gather-dev-RecordsTable', '--endpoint', devStack().baseUrl, '--region', 'local', 'workspace', 'list']);
    expect([notDynamo.code, notDynamo.stderr.trim()]).toEqual([1, expect.stringMatching(/^error: table Gather-dev-RecordsTable at \S+ did not answer as DynamoDB does \(HTTP \d+\): check --endpoint$/)]);
    // The local stack's dev.json naming a port another program holds now: no --endpoint to blame.
    const stale = mkdtempSync(join(tmpdir(), 'gather-taken-'));
    try {
      writeFileSync(join(stale, 'dev.json'), JSON.stringify({ ...devStack(), dynamodbEndpoint: devStack().baseUrl }));
      const taken = await adminCli(['workspace', 'list'], { DATA_DIR: stale });
      expect([taken.code, taken.stderr.trim()]).toEqual([1, expect.stringMatching(/did not answer as DynamoDB does \(HTTP \d+\): another program holds the port its dev\.json names; start the local stack again/)]);
    } finally {
      rmSync(stale, { recursive: true, force: true });
    }
    // The stage's other table (the Idempotency-Key table, keyed by id alone): every command says so, in place of
    // DynamoDB's words about key schemas.
    const otherTable = idempotencyTableName(devStack().tableName);
    for (const args of [['workspace', 'list'], ['workspace', 'create', unique('wrong')], ['token', 'list', '--workspace', 'dev'], ['token', 'create', '--workspace', 'dev', '--scopes', 'records:read'], ['token', 'revoke', 'tok_AAAAAAAAAAAAAAAA'], ['workspace', 'migrate']]) {
      const wrong = await adminCli(['--table', otherTable, '--endpoint', dynamodbEndpoint, '--region', 'local', ...args]);
      expect([args, wrong.code, wrong.stderr.trim()]).toEqual([
        args,
        1,
        `error: table ${otherTable} at ${dynamodbEndpoint} is not a Gather records table (its key is not pk and sk, or it has no list and link indexes): check --table (the stack's TableName output)`,
      ]);
    }
    const notUrl = await adminCli(['--table', 'Gather-dev-RecordsTable', '--endpoint', 'notaurl', '--region', 'local', 'workspace', 'list']);
    expect([notUrl.code, notUrl.stderr.trim()]).toEqual([1, 'error: --endpoint "notaurl" is not a URL (http://host:port)']);
    // An endpoint given on the command line: its own failure, not a word about restarting npm start.
    const unreachable = await adminCli(['--endpoint', 'http://127.0.0.1:1', 'workspace', 'list']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr.trim()).toMatch(/^error: Could not reach the local stack's table \S+ \(.*dev\.json\) at http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)$/);
  });

  it("refuses a table that is not Gather's before writing to it: another key, another key type, no indexes", async () => {
    const { dynamodbEndpoint } = devStack();
    const raw = createDynamoDbClient({ endpoint: dynamodbEndpoint });
    const made: string[] = [];
    try {
      const tables: [string, CreateTableCommandInput['KeySchema'], CreateTableCommandInput['AttributeDefinitions']][] = [
        ['pk-only', [{ AttributeName: 'pk', KeyType: 'HASH' }], [{ AttributeName: 'pk', AttributeType: 'S' }]],
        ['pk-sk-no-indexes', [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }], [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }]],
        ['sk-number', [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }], [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }]],
      ];
      for (const [kind, KeySchema, AttributeDefinitions] of tables) {
        const TableName = unique(`lookalike-${kind}`);
        await raw.send(new CreateTableCommand({ TableName, KeySchema, AttributeDefinitions, BillingMode: 'PAY_PER_REQUEST' }));
        made.push(TableName);
        for (const args of [['workspace', 'create', unique('wrong')], ['workspace', 'list'], ['token', 'revoke', 'tok_AAAAAAAAAAAAAAAA']]) {
          const result = await adminCli(['--table', TableName, '--endpoint', dynamodbEndpoint, '--region', 'local', '--json', ...args]);
          expect([kind, args, result.code, JSON.parse(result.stderr)]).toEqual([
            kind,
            args,
            1,
            { error: { code: 'table_unavailable', message: expect.stringContaining(`table ${TableName} at ${dynamodbEndpoint} is not a Gather records table`) } },
          ]);
        }
        // Nothing was written there.
        expect([kind, (await raw.send(new ScanCommand({ TableName }))).Count]).toEqual([kind, 0]);
      }
    } finally {
      for (const TableName of made) await raw.send(new DeleteTableCommand({ TableName }));
      raw.destroy();
    }
  });

  it('says the local stack is not running when its dev.json outlived it, for every kind of command', async () => {
    // A stack killed without Ctrl-C leaves dev.json behind, naming a DynamoDB Local that is gone.
    const stale = mkdtempSync(join(tmpdir(), 'gather-stale-'));
    try {
      // Port 1: nothing listens there (no test could take it meanwhile, as it could a port freed for the purpose).
      writeFileSync(join(stale, 'dev.json'), JSON.stringify({ ...devStack(), dynamodbEndpoint: 'http://127.0.0.1:1' }));
      for (const args of [['workspace', 'list'], ['token', 'list', '--workspace', 'dev'], ['workspace', 'create', 'nowhere']]) {
        const result = await adminCli(args, { DATA_DIR: stale });
        expect([args, result.code]).toEqual([args, 1]);
        expect(result.stderr).toMatch(new RegExp(`^error: Could not reach the local stack \\(.*dev\\.json\\) \\(ECONNREFUSED\\): its DynamoDB Local is not answering\\. If its "npm start" still runs, it has said so`));
      }
    } finally {
      rmSync(stale, { recursive: true, force: true });
    }
  });

  it('has --help on every command', async () => {
    for (const args of [[], ['workspace'], ['workspace', 'create'], ['workspace', 'list'], ['workspace', 'migrate'], ['workspace', 'attach-usage-plan'], ['token'], ['token', 'create'], ['token', 'list'], ['token', 'revoke']]) {
      const result = await adminCli([...args, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Usage: admin/);
    }
  });
});

describe('admin CLI refused by AWS (in process, the table stubbed)', () => {
  it("says AWS refused the credentials, with a code of its own under --json, for each of AWS's ways of saying so", async () => {
    const { runAdmin } = await import('../../lib/admin/admin-cli.js');
    for (const name of ['AccessDeniedException', 'UnrecognizedClientException', 'ExpiredTokenException', 'CredentialsProviderError']) {
      const refused = Object.assign(new Error('User: arn:aws:iam::123456789012:user/ops is not authorized to perform: dynamodb:Query'), { name });
      const failing = async () => Promise.reject(refused);
      const lines: string[] = [];
      const deps = {
        connect: () => ({ store: { listWorkspaces: failing } as never, description: 'table Gather-prod-RecordsTable in eu-west-1', close: () => {} }),
        io: { out: (t: string) => void lines.push(t), err: (t: string) => void lines.push(t) },
        usagePlans: () => ({ register: failing }),
      };
      expect(await runAdmin(['--table', 'Gather-prod-RecordsTable', 'workspace', 'list'], deps)).toBe(1);
      expect(lines.at(-1)).toBe(
        `error: AWS refused the admin CLI's request to table Gather-prod-RecordsTable in eu-west-1 (${name}: ${refused.message}): check the credentials (AWS_PROFILE, or the AWS_* variables) and that they may use the table`,
      );
      expect(await runAdmin(['--table', 'Gather-prod-RecordsTable', 'workspace', 'list', '--json'], deps)).toBe(1);
      expect(JSON.parse(lines.at(-1)!)).toEqual({ error: { code: 'aws_credentials', message: expect.stringContaining(`(${name}: `) } });
    }
  });

  it("names another table of the stage from AWS's own words for a key that does not fit (a GetItem, as token revoke sends)", async () => {
    const { runAdmin } = await import('../../lib/admin/admin-cli.js');
    const wrongKey = Object.assign(new Error('The provided key element does not match the schema'), { name: 'ValidationException' });
    const lines: string[] = [];
    const deps = {
      connect: () => ({ store: { revokeToken: async () => Promise.reject(wrongKey) } as never, description: 'table Gather-prod-IdempotencyTable in eu-west-1', close: () => {} }),
      io: { out: (t: string) => void lines.push(t), err: (t: string) => void lines.push(t) },
      usagePlans: () => ({ register: async () => Promise.reject(wrongKey) }),
    };
    expect(await runAdmin(['--table', 'Gather-prod-IdempotencyTable', 'token', 'revoke', 'tok_AAAAAAAAAAAAAAAA', '--json'], deps)).toBe(1);
    expect(JSON.parse(lines.at(-1)!)).toEqual({
      error: { code: 'table_unavailable', message: "table Gather-prod-IdempotencyTable in eu-west-1 is not a Gather records table (its key is not pk and sk, or it has no list and link indexes): check --table (the stack's TableName output)" },
    });
  });
});

describe('admin CLI and usage plans (in process, API Gateway stubbed)', () => {
  it('registers a new workspace usage key with the plan, and its keys carry it to the authorizer', async () => {
    const { runAdmin } = await import('../../lib/admin/admin-cli.js');
    const { connectAdminTarget } = await import('../../lib/admin/admin-target.js');
    const { dynamodbEndpoint, tableName } = devStack();
    const registered: [string, string, string][] = [];
    const out: string[] = [];
    const deps = {
      connect: () => connectAdminTarget({ table: tableName, endpoint: dynamodbEndpoint, region: 'local' }),
      io: { out: (t: string) => void out.push(t), err: (t: string) => void out.push(t) },
      usagePlans: () => ({ register: async (ws: string, key: string, plan: string) => (registered.push([ws, key, plan]), { apiKeyId: 'k1' }) }),
    };
    const workspace = unique('planned');
    // Usage plans are a deployed stage's: without --table the command stops before creating anything.
    expect(await runAdmin(['workspace', 'create', workspace, '--usage-plan', 'plan-42'], deps)).toBe(1);
    expect(out.at(-1)).toMatch(/--usage-plan adds the workspace to a deployed stage's usage plan: give that stage's table with --table/);
    expect(await runAdmin(['--table', tableName, 'workspace', 'create', workspace, '--usage-plan', 'plan-42', '--json'], deps)).toBe(0);
    expect(JSON.parse(out.at(-1)!)).toMatchObject({ id: workspace, usage_plan: 'plan-42', api_key_id: 'k1' });
    expect(registered).toEqual([[workspace, expect.stringMatching(/^uk_[0-9A-Za-z]{32}$/), 'plan-42']]);
    // So does attaching one: the local stack has no usage plan to join.
    expect(await runAdmin(['workspace', 'attach-usage-plan', workspace, '--usage-plan', 'plan-42'], deps)).toBe(1);
    expect(out.at(-1)).toMatch(/give that stage's table with --table/);
    expect(registered).toHaveLength(1);
    expect(await runAdmin(['--table', tableName, 'workspace', 'attach-usage-plan', workspace, '--usage-plan', 'plan-42'], deps)).toBe(0);
    expect(registered[1]).toEqual(registered[0]);
    expect(await runAdmin(['--table', tableName, 'workspace', 'attach-usage-plan', 'no-such-ws', '--usage-plan', 'plan-42'], deps)).toBe(1);

    // A plan that cannot be joined: the workspace exists, and the operator is told the one command that finishes.
    const failing = { ...deps, usagePlans: () => ({ register: async () => Promise.reject(new Error('Invalid usage plan ID specified')) }) };
    const stranded = unique('stranded');
    expect(await runAdmin(['--table', tableName, 'workspace', 'create', stranded, '--usage-plan', 'nope'], failing)).toBe(1);
    expect(out.at(-1)).toMatch(new RegExp(`Workspace ${stranded} was created, but adding it to usage plan nope failed \\(Invalid usage plan ID specified\\).*workspace attach-usage-plan ${stranded} --usage-plan nope`));

    const { store, close } = keyStore();
    try {
      const key = await store.createApiKey({ workspace, scopes: ['records:read'] });
      const identity = await store.findByHash((await import('../../lib/auth/api-key.js')).hashApiKey(key.key));
      expect(identity?.usageKey).toBe(registered[0]![1]);
    } finally {
      close();
    }
  });
});
