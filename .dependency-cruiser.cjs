// Dependency rules (STYLE.md "Layers, and which way the arrows point"), checked by
// `npm run lint:deps` in CI: no import cycles, and no layer imports a higher one.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'A runtime import cycle: split the shared part out, or pass a narrow interface.',
      severity: 'error',
      from: {},
      to: {
        circular: true,
        // Type-only imports and `import('...')` types are erased at compile time.
        dependencyTypesNot: ['type-only', 'type-import'],
        viaOnly: { dependencyTypesNot: ['type-only', 'type-import'] },
      },
    },
    {
      name: 'no-type-cycles-in-realtime-server',
      comment:
        'The realtime layers below the client have no cycle at all, type-only imports included: a session sees narrow interfaces (server/session-deps.ts), never the server.',
      severity: 'error',
      from: { path: '^packages/realtime/src/(codec|adapter|transports|server)/' },
      to: { circular: true },
    },
    {
      name: 'websocket-protocol-is-sans-io',
      comment:
        'packages/websocket/src/protocol is pure RFC 6455/7692: it imports neither the Node driver nor the API.',
      severity: 'error',
      from: { path: '^packages/websocket/src/protocol/' },
      to: { path: '^packages/websocket/src/(?!protocol/)' },
    },
    {
      name: 'websocket-node-below-api',
      comment: 'packages/websocket/src/node drives the protocol; it never imports the public API above it.',
      severity: 'error',
      from: { path: '^packages/websocket/src/node/' },
      // Type-only imports of the API's types (the settings, `WebSocket` for `finishRequest`) are erased.
      to: { path: '^packages/websocket/src/[^/]+$', dependencyTypesNot: ['type-only', 'type-import'] },
    },
    {
      name: 'websocket-has-no-upper-layer',
      comment: '@ieum/websocket is the bottom layer: it imports no other workspace package.',
      severity: 'error',
      from: { path: '^packages/websocket/' },
      to: { path: '^packages/(?!websocket/)' },
    },
    {
      name: 'realtime-codec-is-bottom',
      comment: 'src/codec (wire packets, browser-safe) imports no other realtime layer and no Node module.',
      severity: 'error',
      from: { path: '^packages/realtime/src/codec/' },
      to: { path: ['^packages/realtime/src/(?!codec/)', '^packages/websocket/'] },
    },
    {
      name: 'realtime-codec-no-node',
      comment: 'src/codec runs in browsers: no Node core module.',
      severity: 'error',
      from: { path: '^packages/realtime/src/codec/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'realtime-adapter-below-transports',
      comment: 'src/adapter imports only codec.',
      severity: 'error',
      from: { path: '^packages/realtime/src/adapter/' },
      to: { path: '^packages/realtime/src/(transports|server|client)/' },
    },
    {
      name: 'realtime-adapter-entry-stays-light',
      comment:
        '@ieum/realtime/adapter and /codec load neither jose nor prom-client (nor the server: see the rules around).',
      severity: 'error',
      from: { path: '^packages/realtime/src/(adapter|codec)/' },
      to: { path: 'node_modules/(jose|prom-client)/' },
    },
    {
      name: 'realtime-transports-below-server',
      comment: 'src/transports imports codec and adapter, never the server or the client.',
      severity: 'error',
      from: { path: '^packages/realtime/src/transports/' },
      to: { path: '^packages/realtime/src/(server|client)/' },
    },
    {
      name: 'realtime-server-not-client',
      comment: 'The server never imports the client.',
      severity: 'error',
      from: { path: '^packages/realtime/src/server/' },
      to: { path: '^packages/realtime/src/client/' },
    },
    {
      name: 'realtime-client-imports-codec-only',
      comment: 'The browser client imports the codec and itself only (no server code, no Node).',
      severity: 'error',
      from: { path: '^packages/realtime/src/client/' },
      to: { path: ['^packages/realtime/src/(?!client/|codec/)', '^packages/(?!realtime/)'] },
    },
    {
      name: 'adapters-not-server-internals',
      comment:
        'Adapter packages (packages/redis, packages/nats) import @ieum/realtime/adapter and /codec, never the server or transports.',
      severity: 'error',
      from: { path: '^packages/(redis|nats)/src/' },
      to: { path: '^packages/realtime/src/(server|transports|client)/' },
    },
    {
      name: 'examples-use-published-entry-points',
      comment:
        'Examples import packages by their published names (@ieum/realtime/server...), never by a relative path into a package.',
      severity: 'error',
      from: { path: '^examples/' },
      to: { path: '^packages/[^/]+/src/', dependencyTypes: ['local'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.test.json' },
    // Workspace packages resolve to their TypeScript sources, as the tests run them.
    enhancedResolveOptions: {
      conditionNames: ['ieum-source', 'import', 'types', 'default'],
      exportsFields: ['exports'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts'],
    },
    preserveSymlinks: false,
  },
};
