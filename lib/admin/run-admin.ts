/** `npm run admin -- <command>`: see lib/admin/admin-cli.ts and docs/operations.md. */
import { runAdmin } from './admin-cli.js';
import { connectAdminTarget } from './admin-target.js';
import { usagePlanRegistrar } from './usage-plan.js';

process.exitCode = await runAdmin(process.argv.slice(2), {
  connect: connectAdminTarget,
  usagePlans: usagePlanRegistrar,
  io: { out: (text) => console.log(text), err: (text) => console.error(text) },
});
