/** The end-to-end scenario: `npm run smoke` against the local stack, its failures, and the scheduled-test function. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jest } from '@jest/globals';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { Duration } from 'aws-cdk-lib';
import { smokeSuccessMetric } from '../../infra/constructs/scheduled-tests.js';
import { runScenario, type ScenarioResult } from '../../lib/smoke/scenario.js';
import { call, devDataDir, devStack, workspaceWithKey } from '../support/api-client.js';
import { startForwardingProxy, type ForwardingProxy } from '../support/forwarding-proxy.js';
import { runScript, type ScriptRun } from '../support/script-process.js';

const smokeCli = (args: string[]): Promise<ScriptRun> => runScript('lib/smoke/run-smoke.ts', args, { env: { DATA_DIR: devDataDir() } });

describe('npm run smoke', () => {
  it('passes against the local stack, printing each step with its duration', async () => {
    const run = await smokeCli([]);
    expect(run.code).toBe(0);
    expect(run.stdout.match(/^ {2}ok {3}/gm)).toHaveLength(13);
    expect(run.stdout).toMatch(/^ {2}ok {3}upsert an account by form\s+\d+ ms$/m);
    expect(run.stdout).toMatch(/PASSED: 13 of 13 steps passed/);
  });

  it('fails loudly, with what was expected and what came back, and exits non-zero', async () => {
    const { token } = await workspaceWithKey(['records:read']);
    const run = await smokeCli(['--base-url', devStack().baseUrl, '--token', token]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/FAIL upsert an account by form/);
    expect(run.stdout).toMatch(/expected 201 with fields.size "50-100"; got 403 .*forbidden/);
    expect(run.stdout).toMatch(/FAILED: 0 of 13 steps passed/);
  });

  it('never collides with a concurrent run, and cleans up after a failed step', async () => {
    const { baseUrl, token } = devStack();
    // A passing run deletes each record once, in its step: its last step saw both gone, so it has nothing to clean up.
    const deletes: string[] = [];
    const counting = ((url: string, init: RequestInit) => {
      if (init.method === 'DELETE') deletes.push(url);
      return fetch(url, init);
    }) as typeof fetch;
    const [a, b] = await Promise.all([runScenario({ baseUrl, token, fetch: counting }), runScenario({ baseUrl, token })]);
    expect([a.ok, b.ok]).toEqual([true, true]);
    expect(a.runId).not.toBe(b.runId);
    expect(deletes).toHaveLength(2);

    // Break one answer on its way back: the scenario stops there, and still deletes what it made.
    let made: string | undefined;
    const tampering = (async (url: string, init: RequestInit) => {
      const response = await fetch(url, init);
      if (init.method === 'POST' && String(init.body).includes('"plan":"pro"')) return new Response('{"version": 99}', { status: 200 });
      if (init.method === 'POST' && String(init.headers && (init.headers as Record<string, string>)['Content-Type']).includes('form')) made = decodeURIComponent(String(init.body).split('&')[0]!.split('=')[1]!);
      return response;
    }) as typeof fetch;
    const broken = await runScenario({ baseUrl, token, fetch: tampering });
    expect(broken.ok).toBe(false);
    expect(broken.steps.at(-1)).toMatchObject({ name: 'merge a field', ok: false });
    expect(made).toBeDefined();
    expect((await call('GET', `/models/account/records/${encodeURIComponent(made!)}`)).status).toBe(404);
  });
});

describe('the scenario beyond single records', () => {
  // Each step that reads an index or takes a batch fails the run when its answer is wrong, and the run still deletes
  // what it made. The request is sent (a batch is applied); only its answer is replaced.
  it.each([
    ["list the account's customers", (url: string) => url.includes('/customers?')],
    ['list a page of accounts', (url: string) => url.endsWith('/models/account/records?limit=1')],
    ['merge a field by batch', (url: string) => url.endsWith('/models/account/batch')],
    ['list the models', (url: string) => url.endsWith('/models')],
  ])('fails at "%s" when its answer is wrong, and still cleans up', async (name, breaks) => {
    const { baseUrl, token } = devStack();
    const tampering = (async (url: string, init: RequestInit) => {
      const response = await fetch(url, init);
      return breaks(url) ? new Response(JSON.stringify({ records: [], next_cursor: null, results: [], models: [] }), { status: 200 }) : response;
    }) as typeof fetch;
    // A listing is read again before its step fails (it may trail the write): no need to wait for that here.
    const run = await runScenario({ baseUrl, token, fetch: tampering, sleep: async () => {} });
    expect(run.ok).toBe(false);
    expect(run.steps.at(-1)).toMatchObject({ name, ok: false });
    expect(run.steps.slice(0, -1).every((step) => step.ok)).toBe(true);
    expect(run.leftovers).toEqual([]);
    expect((await call('GET', `/models/account/records/${encodeURIComponent(`Smoke Co ${run.runId}`)}`)).status).toBe(404);
    expect((await call('GET', `/models/customer/records/${encodeURIComponent(`smoke+${run.runId}@example.com`)}`)).status).toBe(404);
  });
});

describe('the scenario on indexes that trail their writes', () => {
  // A stage's listing indexes are eventually consistent: a listing that does not show the run's records yet is read
  // again, half a second apart, up to five times in all, before its step fails.
  it('reads a listing again while it does not yet show what the run wrote, and passes once it does', async () => {
    const { baseUrl, token } = devStack();
    let customerReads = 0;
    const lagging = (async (url: string, init: RequestInit) => {
      const response = await fetch(url, init);
      if (url.includes('/customers?') && ++customerReads <= 2) return new Response(JSON.stringify({ records: [], next_cursor: null }), { status: 200 });
      return response;
    }) as typeof fetch;
    const waits: number[] = [];
    const run = await runScenario({ baseUrl, token, fetch: lagging, sleep: async (ms) => void waits.push(ms) });
    expect(run.ok).toBe(true);
    expect(customerReads).toBe(3);
    expect(waits).toEqual([500, 500]);
  });

  it('fails the step when the listing still does not show it after five reads, and cleans up', async () => {
    const { baseUrl, token } = devStack();
    let pageReads = 0;
    const never = (async (url: string, init: RequestInit) => {
      const response = await fetch(url, init);
      if (url.endsWith('/models/account/records?limit=1')) return (pageReads++, new Response(JSON.stringify({ records: [], next_cursor: null }), { status: 200 }));
      return response;
    }) as typeof fetch;
    const run = await runScenario({ baseUrl, token, fetch: never, sleep: async () => {} });
    expect(run.ok).toBe(false);
    expect(run.steps.at(-1)).toMatchObject({ name: 'list a page of accounts', ok: false });
    expect(pageReads).toBe(5);
    expect(run.leftovers).toEqual([]);
    expect((await call('GET', `/models/account/records/${encodeURIComponent(`Smoke Co ${run.runId}`)}`)).status).toBe(404);
  });
});

describe('npm run smoke, cut short', () => {
  it('reports nothing left behind when the API cannot be reached, and refuses a base URL that is not one', async () => {
    const { token } = devStack();
    // A port just freed, so nothing listens on it (fetch refuses to try port 1 and the like at all).
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const unreachable = await smokeCli(['--base-url', `http://127.0.0.1:${port}`, '--token', token]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stdout).toMatch(/FAIL upsert an account by form/);
    expect(unreachable.stdout).toMatch(/request failed: fetch failed \(ECONNREFUSED\)/);
    // The create never reached a server, so nothing can have been made.
    expect(unreachable.stdout).not.toMatch(/could not clean up/);
    for (const url of ['notaurl', 'ftp://example.com']) {
      const refused = await smokeCli(['--base-url', url, '--token', token]);
      expect([url, refused.code]).toEqual([url, 2]);
      expect(refused.stderr).toMatch(/--base-url must be an http:\/\/ or https:\/\/ URL/);
    }
    // An empty URL or key (a variable that was not set) is refused, never taken for the local stack and its key.
    for (const [args, message] of [
      [['--base-url', '', '--token', token], /option '--base-url <url>' argument '' is invalid\. Give the API's URL, or leave the option out/],
      [['--token', ''], /option '--token <key>' argument '' is invalid\. Give a key, or leave the option out/],
    ] as const) {
      const refused = await smokeCli([...args]);
      expect([args, refused.code, refused.stdout]).toEqual([args, 2, '']);
      expect(refused.stderr).toMatch(message);
    }
    // Two keys or two URLs: commander would keep the last without a word, and the run would test another stage.
    const twice = await smokeCli(['--base-url', `http://127.0.0.1:${port}`, '--token', token, '--base-url', 'http://127.0.0.1:1']);
    expect(twice.code).toBe(2); // 1 is for an API that failed a step
    expect(twice.stderr).toMatch(/option '--base-url' was given more than once/);
    expect(twice.stdout).toBe('');
  });

  /**
   * `npm run smoke` through a proxy that holds the requests `hold` names (by their order; the third is the read after
   * both creates), interrupted once both records are made, and again `againAfterMs` later; the proxy's DELETE answers
   * come `lateDeletesMs` late. The paths of the requests the proxy saw come back with the run.
   */
  async function interruptedSmoke(options: { readonly hold: readonly number[]; readonly againAfterMs: number; readonly lateDeletesMs?: number }) {
    const { baseUrl, token } = devStack();
    const paths: string[] = [];
    const proxy = await startForwardingProxy(baseUrl, {
      before: (request) => (paths.push(request.url!), options.hold.includes(paths.length) ? 'hold' : undefined),
      after: (request) => (request.method === 'DELETE' ? options.lateDeletesMs : undefined),
    });
    try {
      let interrupted = false;
      const run = await runScript('lib/smoke/run-smoke.ts', ['--base-url', proxy.url, '--token', token], {
        env: { DATA_DIR: devDataDir() },
        onStdout: (text, kill) => {
          if (!interrupted && /ok {3}upsert a linked customer/.test(text)) {
            interrupted = true;
            kill('SIGINT');
            setTimeout(() => kill('SIGINT'), options.againAfterMs);
          }
        },
      });
      return { run, paths };
    } finally {
      await proxy.close();
    }
  }

  it('deletes what it made when Ctrl-C stops it (its signal twice, as under npm), and exits 130', async () => {
    // The read is never answered, so the run is surely in the middle, with both records made, when Ctrl-C comes; it
    // comes again 50 ms later, as a terminal's Ctrl-C does under npm (once from the terminal, once passed on by npm),
    // while the clean-up, its DELETEs answered late, still runs.
    const { run, paths } = await interruptedSmoke({ hold: [3], againAfterMs: 50, lateDeletesMs: 300 });
    expect(run.code).toBe(130);
    expect(run.stdout).toMatch(/FAIL read the account\s+\d+ ms\n\s+interrupted/);
    expect(run.stdout).toMatch(/INTERRUPTED: 2 of 13 steps passed/);
    expect(run.stdout).not.toMatch(/could not clean up/);
    // The two creates, the read that never came back, and the clean-up's two deletes.
    expect(paths).toHaveLength(5);
    const runId = /\(run ([^)]+)\)/.exec(run.stdout)![1]!;
    expect((await call('GET', `/models/account/records/${encodeURIComponent(`Smoke Co ${runId}`)}`)).status).toBe(404);
    expect((await call('GET', `/models/customer/records/${encodeURIComponent(`smoke+${runId}@example.com`)}`)).status).toBe(404);
  });

  it('leaves at once, records and all, at a second Ctrl-C a second or more after the first', async () => {
    // The clean-up's first DELETE is held too: only the second Ctrl-C ends the run.
    const { run, paths } = await interruptedSmoke({ hold: [3, 4], againAfterMs: 1_300 });
    expect(run.code).toBe(130);
    expect(run.stdout).toContain('interrupted: deleting what this run made');
    expect(run.stdout).not.toMatch(/INTERRUPTED:/);
    // Its records stay, as it said they would; the held DELETE names them, and the test removes them.
    const runId = /smoke\+(\d{14}-[0-9a-f]{8})@example\.com/.exec(decodeURIComponent(paths[3]!))![1]!;
    expect((await call('DELETE', `/models/customer/records/${encodeURIComponent(`smoke+${runId}@example.com`)}`)).status).toBe(204);
    expect((await call('DELETE', `/models/account/records/${encodeURIComponent(`Smoke Co ${runId}`)}`)).status).toBe(204);
  });
});

describe('the scenario under throttling', () => {
  const { baseUrl, token } = devStack();
  const throttled = () => new Response(JSON.stringify({ error: { code: 'rate_limited', message: 'slow down' } }), { status: 429, headers: { 'Retry-After': '2' } });

  it('retries a 429 or 503 after its Retry-After, so one throttled request does not fail the run', async () => {
    let sent = 0;
    const waits: number[] = [];
    // Every other request is throttled, the way a stage near its rate limit answers.
    const flaky = (async (url: string, init: RequestInit) => (sent++ % 2 === 0 ? throttled() : fetch(url, init))) as typeof fetch;
    const result = await runScenario({ baseUrl, token, fetch: flaky, sleep: async (ms) => void waits.push(ms) });
    expect(result.steps.filter((s) => !s.ok)).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.leftovers).toEqual([]);
    expect(waits.length).toBeGreaterThan(9);
    expect(new Set(waits)).toEqual(new Set([2000]));
  });

  it('takes a retried write that an answer lost had already applied: a 200 at version 1 for a create, a 404 for a delete', async () => {
    const waits: number[] = [];
    let lost = 0;
    // Each write goes through, but the first answer to every create and delete is lost behind a 503.
    const lossy = (async (url: string, init: RequestInit) => {
      const response = await fetch(url, init);
      const first = (init.method === 'DELETE' || (init.method === 'POST' && !String(init.body).includes('plan'))) && lost++ % 2 === 0;
      return first ? new Response('{"error":{"code":"unavailable","message":"lost"}}', { status: 503, headers: { 'Retry-After': '1' } }) : response;
    }) as typeof fetch;
    const result = await runScenario({ baseUrl, token, fetch: lossy, sleep: async (ms) => void waits.push(ms) });
    expect(result.steps.filter((s) => !s.ok)).toEqual([]);
    expect(result.ok).toBe(true);
    expect(waits.length).toBeGreaterThanOrEqual(4);
  });

  it('stops waiting out a Retry-After when interrupted, and still looks for what it may have made', async () => {
    const interrupt = new AbortController();
    // Every create is throttled, and Ctrl-C comes during the first wait, which would otherwise never end.
    const throttledCreates = (async (url: string, init: RequestInit) => {
      if (init.signal?.aborted) throw new DOMException('This operation was aborted', 'AbortError');
      if (init.method === 'POST') {
        setTimeout(() => interrupt.abort(), 10);
        return throttled();
      }
      return fetch(url, init);
    }) as typeof fetch;
    const result = await runScenario({ baseUrl, token, fetch: throttledCreates, signal: interrupt.signal, sleep: () => new Promise<void>(() => undefined) });
    expect(result).toMatchObject({ ok: false, interrupted: true, leftovers: [] });
    expect(result.steps).toEqual([{ name: 'upsert an account by form', ok: false, ms: expect.any(Number), detail: 'interrupted' }]);
  });

  it('starts no retry past its deadline, so a scheduled run always reports in time', async () => {
    const waits: number[] = [];
    // A 503, unlike a 429, may hide an applied write.
    const down = (async () => new Response(JSON.stringify({ error: { code: 'unavailable', message: 'down' } }), { status: 503, headers: { 'Retry-After': '2' } })) as typeof fetch;
    const result = await runScenario({ baseUrl, token, fetch: down, sleep: async (ms) => void waits.push(ms), deadline: Date.now() + 1500 });
    expect(result.ok).toBe(false);
    expect(result.steps).toHaveLength(1);
    expect(waits).toEqual([]);
    // The account's create answered 503 and may have been applied; the customer's was never sent.
    expect(result.leftovers).toEqual([expect.stringMatching(/^account Smoke Co .*\(DELETE answered 503\)$/)]);
  });

  it('reports nothing left behind, and sends no DELETE, when its creates were refused (a wrong key, a read-only key)', async () => {
    const { token: readOnly } = await workspaceWithKey(['records:read']);
    for (const key of ['gth_wrongwrong', readOnly]) {
      const methods: string[] = [];
      const recording = (async (url: string, init: RequestInit) => {
        methods.push(String(init.method));
        return fetch(url, init);
      }) as typeof fetch;
      const result = await runScenario({ baseUrl, token: key, fetch: recording });
      expect([key, result.ok, result.steps.length, result.leftovers, methods]).toEqual([key, false, 1, [], ['POST']]);
    }
  });

  it("shows the whole record a failed step got, down to the link it checked", async () => {
    // The customer's answer says its account does not exist: the detail must show that, at the envelope's end.
    const unlinked = (async (url: string, init: RequestInit) => {
      const answer = await fetch(url, init);
      if (init.method !== 'POST' || !String(init.body).includes('smoke+')) return answer;
      const body = (await answer.json()) as { links: { account: { exists: boolean } } };
      body.links.account.exists = false;
      return new Response(JSON.stringify(body), { status: answer.status, headers: { 'Content-Type': 'application/json' } });
    }) as typeof fetch;
    const result = await runScenario({ baseUrl, token, fetch: unlinked });
    expect(result.ok).toBe(false);
    expect(result.steps[1]!.detail).toMatch(/"links":\{"account":\{"id":"Smoke Co [^"]+","exists":false\}\}\}$/);
    expect(result.leftovers).toEqual([]);
  });

  it('sends no DELETE for a create that was never written: rate limited on every attempt, or refused a TLS session', async () => {
    const methods: string[] = [];
    const limited = (async (_url: string, init: RequestInit) => {
      methods.push(String(init.method));
      return throttled();
    }) as typeof fetch;
    const result = await runScenario({ baseUrl, token, fetch: limited, sleep: async () => undefined });
    // The create and its three retries, each answered 429: nothing was written, so nothing is looked for.
    expect([result.ok, result.leftovers, methods]).toEqual([false, [], ['POST', 'POST', 'POST', 'POST']]);
    // https to the plain-HTTP local stack: the TLS handshake fails before any request is sent.
    const tls = await runScenario({ baseUrl: baseUrl.replace(/^http:/, 'https:'), token });
    expect([tls.ok, tls.steps.length, tls.leftovers]).toEqual([false, 1, []]);
    expect(tls.steps[0]!.detail).toMatch(/ERR_SSL_/);
  });

  it('reports what its clean-up could not delete, and gives up on a request that stays throttled', async () => {
    let made: string | undefined;
    const waits: number[] = [];
    // The merge step's answer is broken (the run fails there); every DELETE stays throttled.
    const failing = (async (url: string, init: RequestInit) => {
      if (init.method === 'DELETE') return throttled();
      if (init.method === 'POST' && String(init.body).includes('"plan":"pro"')) return new Response('{"version": 99}', { status: 200 });
      if (init.method === 'POST' && String(init.body).startsWith('name=')) made = decodeURIComponent(String(init.body).split('&')[0]!.split('=')[1]!);
      return fetch(url, init);
    }) as typeof fetch;
    const result = await runScenario({ baseUrl, token, fetch: failing, sleep: async (ms) => void waits.push(ms) });
    expect(result.ok).toBe(false);
    expect(result.leftovers).toEqual([expect.stringMatching(/^customer smoke\+.*\(DELETE answered 429\)$/), `account ${made} (DELETE answered 429)`]);
    // Three retries for each of the two deletes, then it stops.
    expect(waits).toHaveLength(6);
    const email = /^customer (\S+) /.exec(result.leftovers[0]!)![1]!;
    expect((await call('DELETE', `/models/customer/records/${encodeURIComponent(email)}`)).status).toBe(204);
    expect((await call('DELETE', `/models/account/records/${encodeURIComponent(made!)}`)).status).toBe(204);
  });
});

describe('the scheduled-test function', () => {
  const secrets = mockClient(SecretsManagerClient);
  // The function reads its stage's URL once, when it is loaded: every call here goes through this proxy to the local
  // stack, which can answer every request late, as a slowed-down API would.
  let slowAnswersMs = 0;
  let refuseDeletes = false;
  let proxy: ForwardingProxy;
  beforeAll(async () => {
    proxy = await startForwardingProxy(devStack().baseUrl, {
      before: (request) =>
        refuseDeletes && request.method === 'DELETE'
          ? { status: 503, headers: { 'Retry-After': '1' }, body: '{"error":{"code":"unavailable","message":"down","request_id":"proxy"}}' }
          : undefined,
      after: () => slowAnswersMs,
    });
  });
  afterAll(async () => {
    secrets.restore();
    await proxy.close();
  });

  async function invoke(secretValue: string, context?: { getRemainingTimeInMillis(): number }): Promise<{ ok: boolean; metrics: Record<string, unknown>[]; result: ScenarioResult }> {
    process.env.SMOKE_BASE_URL = proxy.url;
    process.env.SMOKE_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:smoke';
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    secrets.reset();
    secrets.on(GetSecretValueCommand).resolves({ SecretString: secretValue });
    const { clearCaches } = await import('@aws-lambda-powertools/parameters');
    clearCaches();
    const lines: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (lines.push(String(chunk)), true));
    try {
      const { handler } = await import('../../functions/scheduled-smoke.js');
      const result = await handler(undefined, context);
      const metrics = lines.join('').split('\n').filter((l) => l.includes('CloudWatchMetrics')).map((l) => JSON.parse(l) as Record<string, unknown>);
      return { ok: result.ok, metrics, result };
    } finally {
      spy.mockRestore();
    }
  }

  it('runs the scenario against the stage URL with the key from Secrets Manager and reports success', async () => {
    const { ok, metrics } = await invoke(devStack().token);
    expect(ok).toBe(true);
    expect(metrics.find((m) => 'SmokeSuccess' in m)).toMatchObject({ SmokeSuccess: 1, SmokeLeftovers: 0 });
    expect(metrics.filter((m) => 'SmokeStepDuration' in m)).toHaveLength(13);
    // The metric the SmokeFailing alarm watches (infra/constructs/scheduled-tests.ts): its namespace, and every one of
    // its dimensions with the value the alarm expects (this test's functions run as stage "local"). An alarm on a
    // metric the function does not write would sit in ALARM for ever, or never leave OK on a name mismatch.
    const line = metrics.find((m) => 'SmokeSuccess' in m)!;
    const watched = smokeSuccessMetric('local', Duration.minutes(5));
    const [emf] = (line._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] }).CloudWatchMetrics;
    expect(emf!.Namespace).toBe(watched.namespace);
    expect(emf!.Dimensions.map((set) => [...set].sort())).toEqual([Object.keys(watched.dimensions!).sort()]);
    expect(Object.fromEntries(Object.keys(watched.dimensions!).map((name) => [name, line[name]]))).toEqual(watched.dimensions);
  });

  it('counts the records its clean-up could not delete (SmokeLeftovers), for the dashboard to show', async () => {
    refuseDeletes = true;
    let outcome: Awaited<ReturnType<typeof invoke>>;
    try {
      outcome = await invoke(devStack().token);
    } finally {
      refuseDeletes = false;
    }
    expect(outcome.ok).toBe(false);
    expect(outcome.result.leftovers).toHaveLength(2);
    expect(outcome.metrics.find((m) => 'SmokeSuccess' in m)).toMatchObject({ SmokeSuccess: 0, SmokeLeftovers: 2 });
    // What it left, deleted here.
    for (const path of [`/models/customer/records/${encodeURIComponent(`smoke+${outcome.result.runId}@example.com`)}`, `/models/account/records/${encodeURIComponent(`Smoke Co ${outcome.result.runId}`)}`]) {
      expect((await call('DELETE', path, { token: devStack().token })).status).toBe(204);
    }
  }, 60_000);

  it('keeps time for its clean-up from its steps: a run whose steps outlast their time still deletes what it made', async () => {
    // Every answer comes 2 s late. 21.5 s left: 5 s are kept to report and 15 s for the clean-up, so the steps stop 1.5
    // s in, during the account's create, which the API applied. Without that reserve the steps would run until 16.5 s
    // in and leave the clean-up no time at all.
    slowAnswersMs = 2000;
    let outcome: Awaited<ReturnType<typeof invoke>>;
    try {
      outcome = await invoke(devStack().token, { getRemainingTimeInMillis: () => 21_500 });
    } finally {
      slowAnswersMs = 0;
    }
    expect(outcome.ok).toBe(false);
    expect(outcome.result.steps.map((step) => [step.ok, step.detail])).toEqual([[false, expect.stringMatching(/aborted due to timeout/)]]);
    expect(outcome.result.leftovers).toEqual([]);
    const account = `Smoke Co ${outcome.result.runId}`;
    expect((await call('GET', `/models/account/records/${encodeURIComponent(account)}`, { token: devStack().token })).status).toBe(404);
    expect(outcome.metrics.find((m) => 'SmokeSuccess' in m)).toMatchObject({ SmokeSuccess: 0 });
  }, 30_000);

  it('reports failure (SmokeSuccess 0) when the key does not work', async () => {
    const { ok, metrics } = await invoke('gth_not_a_real_key');
    expect(ok).toBe(false);
    expect(metrics.find((m) => 'SmokeSuccess' in m)).toMatchObject({ SmokeSuccess: 0 });
  });

  it('reports failure, saying so, when Secrets Manager does not answer, before the function runs out of time', async () => {
    process.env.SMOKE_BASE_URL = proxy.url;
    process.env.SMOKE_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:smoke';
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    secrets.reset();
    secrets.on(GetSecretValueCommand).callsFake(() => new Promise(() => {}));
    const { clearCaches } = await import('@aws-lambda-powertools/parameters');
    clearCaches();
    // Metrics go to stdout, and the logger's errors to stderr.
    const lines: string[] = [];
    const errors: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (lines.push(String(chunk)), true));
    const errorSpy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (errors.push(String(chunk)), true));
    let result: ScenarioResult;
    try {
      const { handler } = await import('../../functions/scheduled-smoke.js');
      // 5.5 s left: 5 s are kept for the report, so the key has half a second.
      result = await handler(undefined, { getRemainingTimeInMillis: () => 5_500 });
    } finally {
      spy.mockRestore();
      errorSpy.mockRestore();
    }
    expect(result.ok).toBe(false);
    expect(result.steps).toEqual([]);
    const logged = errors.join('').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { message?: string; error?: { message?: string } });
    expect(logged.find((l) => l.message === 'smoke test could not run')?.error?.message).toBe('Secrets Manager did not answer for the smoke key within 500 ms');
    const metrics = lines.join('').split('\n').filter((l) => l.includes('CloudWatchMetrics'));
    expect(metrics.map((l) => JSON.parse(l) as Record<string, unknown>).find((m) => 'SmokeSuccess' in m)).toMatchObject({ SmokeSuccess: 0 });
  });
});
