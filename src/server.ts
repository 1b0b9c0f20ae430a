// Puts the pieces together: options → model → accept loop, plus graceful shutdown.
// Used by `switchboard serve`; tests and the benchmark start the CLI as a real process.
import type { AddressInfo } from 'node:net';
import { AcceptLoop } from './shared/accept-loop.ts';
import { fillOptions, type FilledServerOptions, type ServerOptions } from './shared/config.ts';
import { handlerUrl } from './shared/handler.ts';
import { createLogger, type Logger } from './shared/log.ts';
import { createModel } from './models/registry.ts';
import type { Model, ModelStats } from './models/model.ts';

export interface RunningServer {
  readonly address: AddressInfo;
  readonly options: FilledServerOptions;
  readonly model: Model;
  stats(): ModelStats & { accept: ReturnType<AcceptLoop['stats']> };
  /**
   * Graceful stop: no new connections, every open one finishes its outstanding requests
   * (bounded by --drain-timeout, after which what is left is force-closed), every thread and
   * child released. Resolves true when the drain finished within the deadline.
   */
  stop(): Promise<boolean>;
}

export async function startServer(input: ServerOptions, log?: Logger): Promise<RunningServer> {
  const options = fillOptions(input);
  log ??= createLogger(options.logLevel);
  const model = await createModel(options.model, { options, handlerUrl: handlerUrl(options.handler), log });
  await model.start();
  const loop = new AcceptLoop(model, options, log);
  let address: AddressInfo;
  try {
    address = await loop.listen();
  } catch (err) {
    await model.close();
    throw err;
  }
  let stopping: Promise<boolean> | null = null;
  return {
    address,
    options,
    model,
    stats: () => ({ ...model.stats(), accept: loop.stats() }),
    stop() {
      stopping ??= (async () => {
        loop.stopAccepting();
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), options.drainTimeoutMs);
        });
        const drained = await Promise.race([model.drain().then(() => true as const), deadline]);
        clearTimeout(timer);
        await model.close();
        return drained;
      })();
      return stopping;
    },
  };
}
