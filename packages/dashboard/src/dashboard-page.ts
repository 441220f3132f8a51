// DashboardPage: the dashboard's HTML, script and styles. The script (the page's code, the
// realtime client and uPlot) is bundled for the browser by esbuild on first request and kept.
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { build } from 'esbuild';

/** A file of the page: next to this module in the sources, in `../src/page` from the built `dist`. */
function here(file: string): string {
  const beside = new URL(`./page/${file}`, import.meta.url).pathname;
  return existsSync(beside) ? beside : new URL(`../src/page/${file}`, import.meta.url).pathname;
}

const FAVICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#0f172a"/>' +
  '<path d="M5 22l6-8 5 5 5-9 6 7" fill="none" stroke="#38bdf8" stroke-width="3" stroke-linecap="round" stroke-linejoin="round"/></svg>';

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
};

export class DashboardPage {
  private script: Promise<string> | undefined;
  private readonly html: string;
  private readonly css: string;

  constructor(private readonly path: string) {
    this.html = readFileSync(here('index.html'), 'utf8').replaceAll('%BASE%', path);
    const uplotCss = createRequire(import.meta.url).resolve('uplot/dist/uPlot.min.css');
    this.css = readFileSync(uplotCss, 'utf8') + readFileSync(here('dashboard.css'), 'utf8');
  }

  /** The page's script, bundled once. */
  bundle(): Promise<string> {
    this.script ??= build({
      entryPoints: [here('dashboard-page.js')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      conditions: ['ieum-source'],
      minify: true,
      write: false,
      logLevel: 'silent',
    }).then((r) => r.outputFiles[0]!.text);
    return this.script;
  }

  /** Serves `<path>/`, its script, styles and icon; false for any other URL. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = (req.url ?? '').split('?')[0]!;
    if (url !== this.path && !url.startsWith(`${this.path}/`)) return false;
    const rest = url.slice(this.path.length);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('GET only');
      return true;
    }
    if (rest === '') {
      res.writeHead(308, { location: `${this.path}/` }).end();
    } else if (rest === '/' || rest === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...SECURITY_HEADERS }).end(this.html);
    } else if (rest === '/dashboard.css') {
      res.writeHead(200, { 'content-type': 'text/css; charset=utf-8' }).end(this.css);
    } else if (rest === '/favicon.svg') {
      res.writeHead(200, { 'content-type': 'image/svg+xml', 'cache-control': 'max-age=86400' }).end(FAVICON);
    } else if (rest === '/dashboard.js') {
      this.bundle().then(
        (js) => res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(js),
        (error: Error) =>
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`bundle failed: ${error.message}`),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
    }
    return true;
  }
}
