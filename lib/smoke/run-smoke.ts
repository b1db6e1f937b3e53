/**
 * `npm run smoke -- --base-url <url> --token <key>` (the local stack by default, through `$DATA_DIR/dev.json`): runs
 * the end-to-end scenario, printing each step with its status and duration, then a summary. Exits 1 on the first
 * failure, saying what was expected and what came back; 2 when there is nothing to test or the command line is wrong
 * (an unknown option, one given twice); 130 after Ctrl-C, which still deletes what the run made.
 */
import { Command } from 'commander';
import { notBlank, refuseRepeatedOptions, usageErrorsExitWith } from '../cli-options.js';
import { apiTarget } from '../local/dev-json.js';
import { runScenario, scenarioStepCount } from './scenario.js';

const program = refuseRepeatedOptions(
  usageErrorsExitWith(
    2,
    new Command('smoke')
      .description('Run the end-to-end scenario against the API')
      // An empty value (`--base-url "$URL"` with URL unset) is refused, not taken for the local stack.
      .option('--base-url <url>', 'the API (default: the local stack)', notBlank("the API's URL"))
      .option('--token <key>', 'an API key with records:read and records:write (default: the local dev key)', notBlank('a key')),
  ),
).parse();
const options = program.opts<{ baseUrl?: string; token?: string }>();

const { baseUrl, token, problem } = apiTarget(options, process.env.GATHER_TOKEN);
if (problem !== undefined || !baseUrl || !token) {
  console.error(`error: nothing to test: ${problem}`);
  process.exit(2);
}

// Ctrl-C stops the run but still deletes what it made; a second one leaves at once. One key press can arrive twice: a
// terminal sends it to npm and to this process, and npm passes its own on. So a second within a second is that one.
const interrupt = new AbortController();
let interruptedAt = 0;
process.on('SIGINT', () => {
  if (!interrupt.signal.aborted) {
    interruptedAt = performance.now();
    console.log('interrupted: deleting what this run made (Ctrl-C again, a second later, to leave it behind)');
    interrupt.abort();
  } else if (performance.now() - interruptedAt >= 1000) process.exit(130);
});

console.log(`Smoke test against ${baseUrl}`);
const started = performance.now();
const result = await runScenario({
  baseUrl,
  token,
  signal: interrupt.signal,
  onStep: (step) => {
    console.log(`  ${step.ok ? 'ok  ' : 'FAIL'} ${step.name.padEnd(40)} ${step.ms.toFixed(0).padStart(6)} ms`);
    if (!step.ok) console.log(`       ${step.detail}`);
  },
});
const passed = result.steps.filter((s) => s.ok).length;
console.log(
  `${result.ok ? 'PASSED' : result.interrupted ? 'INTERRUPTED' : 'FAILED'}: ${passed} of ${scenarioStepCount} steps passed in ${(performance.now() - started).toFixed(0)} ms (run ${result.runId})`,
);
for (const leftover of result.leftovers) console.log(`  could not clean up: ${leftover}`);
// 130, as a shell reports a command ended by Ctrl-C.
process.exitCode = result.ok ? 0 : result.interrupted ? 130 : 1;
