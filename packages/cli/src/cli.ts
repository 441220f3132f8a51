#!/usr/bin/env node
import { main } from './main.js';

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`ieum: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
