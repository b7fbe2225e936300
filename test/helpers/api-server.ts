import path from 'node:path';
import { startServer, type RunningServer, type ServeOptions } from '../../src/api/server.js';
import { Engine } from '../../src/engine/engine.js';
import { makeFixture, type Fixture } from './fixture.js';

/**
 * The API server in the test's own process, over a fresh data root with the base image: for unit
 * tests of routes that start no instance (the integration tests run the real `isola serve`).
 */
export interface InProcessApi {
  fx: Fixture;
  engine: Engine;
  server: RunningServer;
  /** DATA_ROOT/api.sock, where the server listens unless `options` says otherwise. */
  sock: string;
  /** Closes the server, then the engine, then removes the data root. */
  dispose(): Promise<void>;
}

/** `options(root)` may replace the listener (TCP, a token file in the root) and add limits or a log. */
export async function startInProcessApi(options: (root: string) => Partial<ServeOptions> = () => ({})): Promise<InProcessApi> {
  const fx = await makeFixture();
  const engine = new Engine(fx.config);
  const sock = path.join(fx.root, 'api.sock');
  let server: RunningServer;
  try {
    const o = options(fx.root);
    server = await startServer(engine, { ...o, socket: o.socket === undefined ? sock : o.socket });
  } catch (e) {
    engine.close();
    await fx.dispose();
    throw e;
  }
  return {
    fx, engine, server, sock,
    dispose: async () => {
      await server.close();
      engine.close();
      await fx.dispose();
    },
  };
}
