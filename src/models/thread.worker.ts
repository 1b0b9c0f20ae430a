// Entry of one `thread` model worker: load the handler, say ready, serve exactly one
// connection with the shared connection code, report its summary, exit. The socket arrives
// unread in the transfer list; from then on this thread's own event loop reads and writes it.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import type { Socket } from 'node:net';
import { ConnectionHost } from '../shared/connection-host.ts';
import { startHeartbeat } from '../shared/heartbeat.ts';
import { isMessage, type AdmittedMessage, type ClosedMessage, type MetricsMessage, type DrainMessage, type ReadyMessage, type StartupMessage, type ThreadConnectionMessage } from '../shared/ipc.ts';

const port = parentPort!;
const startup = workerData as StartupMessage;
const host = new ConnectionHost({
  model: startup.model,
  handlerUrl: startup.handlerUrl,
  limits: startup.limits,
  ask: (message) => port.postMessage(message),
});
// A handler that fails to load throws here: the thread dies before 'ready' and the model sees why.
await host.load();
const heartbeat = startHeartbeat(startup.heartbeat, threadId);
const finalMetrics = host.reportMetrics((snapshot, final) => port.postMessage({ type: 'metrics', snapshot, final } satisfies MetricsMessage));
let serving = false;

port.on('message', (msg: unknown) => {
  if (isMessage<ThreadConnectionMessage>(msg, 'connection') && !serving) {
    serving = true;
    heartbeat.busy(1); // owes answers from here until it exits
    void host.serve(msg.socket as Socket, msg.id).then((summary) => {
      finalMetrics();
      port.postMessage({ type: 'closed', id: msg.id, summary } satisfies ClosedMessage);
      // One connection per thread: exit now, even if the handler left timers behind (a SLEEP
      // whose peer reset). Messages posted before exit are delivered before the 'exit' event.
      process.exit(0);
    });
  } else if (isMessage<AdmittedMessage>(msg, 'admitted')) {
    host.admitted(msg);
  } else if (isMessage<DrainMessage>(msg, 'drain')) {
    if (!serving) process.exit(0); // an idle spare: nothing to finish
    void host.drain();
  }
});
port.postMessage({ type: 'ready' } satisfies ReadyMessage);
