#!/usr/bin/env node
// The `ieum` command. Runs the compiled CLI; build it first with `npm run build` at the repository root.
try {
  await import('../dist/cli.js');
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist')) {
    console.error('ieum: the CLI is not built. Run `npm run build` at the repository root first.');
    process.exit(1);
  }
  throw error;
}
