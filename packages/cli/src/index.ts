export { type EchoClientOptions, runEchoClient } from './echo-client.js';
export { type EchoServerOptions, startEchoServer } from './echo-server.js';
export { createProgram, main } from './main.js';
