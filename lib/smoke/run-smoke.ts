/**
 * `npm run smoke -- --base-url <url> --token <key>` (the local stack by default, through `$DATA_DIR/dev.json`): runs
 * the end-to-end scenario, printing each step with its status and duration, then a summary. Exits 1 on the first
 * failure, saying what was expected and what came back.
 */
import { Command } from 'commander';
import { apiTarget } from '../local/dev-json.js';
import { runScenario, scenarioStepCount } from './scenario.js';

const program = new Command('smoke')
  .description('Run the end-to-end scenario against the API')
  .option('--base-url <url>', 'the API (default: the local stack)')
  .option('--token <key>', 'an API key with records:read and records:write (default: the local dev key)')
  .parse();
const options = program.opts<{ baseUrl?: string; token?: string }>();

const { baseUrl, token, problem } = apiTarget(options, process.env.GATHER_TOKEN);
if (problem !== undefined || !baseUrl || !token) {
  console.error(`error: nothing to test: ${problem}`);
  process.exit(2);
}

console.log(`Smoke test against ${baseUrl}`);
const started = performance.now();
const result = await runScenario({
  baseUrl,
  token,
  onStep: (step) => {
    console.log(`  ${step.ok ? 'ok  ' : 'FAIL'} ${step.name.padEnd(40)} ${step.ms.toFixed(0).padStart(6)} ms`);
    if (!step.ok) console.log(`       ${step.detail}`);
  },
});
const passed = result.steps.filter((s) => s.ok).length;
console.log(`${result.ok ? 'PASSED' : 'FAILED'}: ${passed} of ${scenarioStepCount} steps passed in ${(performance.now() - started).toFixed(0)} ms (run ${result.runId})`);
for (const leftover of result.leftovers) console.log(`  could not clean up: ${leftover}`);
process.exitCode = result.ok ? 0 : 1;
