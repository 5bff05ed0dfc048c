/**
 * webrnn/worker: run the engine in a Web Worker (or a Node worker thread) and use it from the
 * page through proxies, so that a long training loop or a large forward pass leaves the page's
 * thread free. In the worker: `serveEngine(self)`; in the page: `connectEngine(worker)`.
 */
export { serveEngine } from './remote/serve.js';
export { connectEngine, type RemoteEngine, type RemoteModel, type RemoteStream } from './remote/connect.js';
export type { MessageEndpoint } from './remote/protocol.js';
