// Entry of a `thread-pool` (piscina) worker. Each task is one connection whose socket arrived
// in the transfer list; the task resolves with the connection's summary once it has closed.
// With concurrentTasksPerWorker = K this thread's event loop multiplexes up to K connections.
import { threadId, workerData } from 'node:worker_threads';
import type { Socket } from 'node:net';
import { ConnectionHost } from '../shared/connection-host.ts';
import type { ConnectionSummary } from '../shared/connection.ts';
import { startHeartbeat } from '../shared/heartbeat.ts';
import { isMessage, type AdmittedMessage, type DrainMessage, type MetricsMessage, type PoolStartup, type PoolTask } from '../shared/ipc.ts';

const startup = workerData as PoolStartup;
// Drain: threads already running hear it on the channel; one started later (a replacement for
// a dead thread) sees the shared flag when its next connection arrives. Admissions (see
// AdmitMessage) use the same channel: piscina owns this thread's parentPort.
const drains = new BroadcastChannel(startup.drainChannel);
const host = new ConnectionHost({
  model: startup.model,
  handlerUrl: startup.handlerUrl,
  limits: startup.limits,
  ask: (message) => drains.postMessage(message),
});
await host.load();
const heartbeat = startHeartbeat(startup.heartbeat, threadId);
host.reportMetrics((snapshot, final) => drains.postMessage({ type: 'metrics', snapshot, final } satisfies MetricsMessage));
drains.onmessage = (event) => {
  const msg = (event as MessageEvent).data;
  if (isMessage<DrainMessage>(msg, 'drain')) void host.drain();
  else if (isMessage<AdmittedMessage>(msg, 'admitted')) host.admitted(msg);
};
(drains as unknown as { unref(): void }).unref();

export default function serve(task: PoolTask): Promise<ConnectionSummary> | { ready: true; threadId: number } {
  if (task.type === 'ping') return { ready: true, threadId }; // the start-up handshake
  if (Atomics.load(startup.drainFlag, 0) === 1) void host.drain();
  heartbeat.busy(1);
  return host.serve(task.socket as Socket, task.id).finally(() => heartbeat.busy(-1));
}
