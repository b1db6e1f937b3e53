/**
 * Three tiers, as jest projects: unit (pure code), integration (real HTTP to the local gateway on DynamoDB Local,
 * started once by the global setup) and infra (assertions on the synthesized CloudFormation). The code is ESM
 * (docs/decisions.md), so jest runs with --experimental-vm-modules and ts-jest in ESM mode.
 */
const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
};

export default {
  // A global option: jest ignores it inside a project. A hang detector, not a speed check: the slowest tests (bundling
  // every function, a 1,000-item batch, the SDK's retry back-off against injected faults) take 10 to 19 s on a slow
  // 2-core machine, and CI's may be slower still.
  testTimeout: 60_000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.js',
      globalTeardown: '<rootDir>/test/support/global-teardown.js',
    },
    { ...common, displayName: 'infra', testMatch: ['<rootDir>/test/infra/**/*.test.ts'] },
  ],
};
