// Usage:
//   node --import tsx conformance/src/cli.ts client --url ws://127.0.0.1:9001 [--cases 1.*,2.1] [--exclude 9.*] [--json out.json]
//   node --import tsx conformance/src/cli.ts server --port 9002 [--cases ...] [--json out.json]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { allCases, allDeflateCases, selectCases } from './registry.js';
import { type Result, runClientSuite, startServerSuite, summarize } from './runner.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    cases: { type: 'string' },
    exclude: { type: 'string' },
    json: { type: 'string' },
    deflate: { type: 'boolean' },
  },
});
const mode = positionals[0];
// --deflate selects sections 12 and 13 (permessage-deflate) instead of 1-7, 9, 10.
const cases = selectCases(values.cases, values.exclude, values.deflate ? allDeflateCases : allCases);
const print = (r: Result) => console.log(`${r.id} ${r.outcome}${r.reason ? ` ${r.reason}` : ''}`);
let results: Result[];
if (mode === 'client') {
  if (!values.url) throw new Error('client mode needs --url ws://host:port');
  results = await runClientSuite({ url: values.url, cases, onResult: print });
} else if (mode === 'server') {
  const suite = startServerSuite({
    port: Number(values.port ?? 9001),
    host: values.host,
    cases,
    onResult: print,
  });
  const port = await suite.listening;
  console.log(
    `fuzzing server on ws://${values.host ?? '127.0.0.1'}:${port} with ${cases.length} cases; waiting for a client`,
  );
  results = await suite.results;
  suite.close();
} else {
  console.error(
    'usage: cli.ts client --url URL | server --port N  [--cases 1.*,2.1] [--exclude 9.*] [--json FILE]',
  );
  process.exit(2);
}
const { summary, failed } = summarize(results);
console.log(summary);
if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 2));
process.exitCode = failed > 0 ? 1 : 0;
