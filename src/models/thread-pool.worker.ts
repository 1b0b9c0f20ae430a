// Entry of a `thread-pool` (piscina) worker. Each task is one connection whose socket arrived
// in the transfer list; the task resolves with the connection's summary once it has closed.
// With concurrentTasksPerWorker = K this thread's event loop multiplexes up to K connections.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import type { Socket } from 'node:net';
import { ConnectionHost } from '../shared/connection-host.ts';
import type { ConnectionSummary } from '../shared/connection.ts';
import { startHeartbeat } from '../shared/heartbeat.ts';
import { isMessage, type AdmittedMessage, type DrainMessage, type MetricsMessage, type PoolReadyMessage, type RetireMessage, type PoolStartup, type PoolTask } from '../shared/ipc.ts';

const startup = workerData as PoolStartup;
// To the main thread: parentPort, which piscina passes on as the pool's 'message' event (its own
// messages are told apart by piscina's marker), so metrics and admission asks reach the main
// thread alone, not every other thread as a broadcast would. From it: the drain channel, heard by
// every thread (drain, admission answers, retire). A thread started after a drain (a replacement
// for a dead one) sees the shared flag when its next connection arrives.
const toMain = (message: unknown) => parentPort!.postMessage(message);
const drains = new BroadcastChannel(startup.drainChannel);
const host = new ConnectionHost({
  model: startup.model,
  handlerUrl: startup.handlerUrl,
  limits: startup.limits,
  ask: toMain,
});
await host.load();
const heartbeat = startHeartbeat(startup.heartbeat, threadId);
const sendFinalMetrics = host.reportMetrics((snapshot, final) => toMain({ type: 'metrics', snapshot, final } satisfies MetricsMessage));
let retiring = false;
drains.onmessage = (event) => {
  const msg = (event as MessageEvent).data;
  if (isMessage<DrainMessage>(msg, 'drain')) void host.drain();
  else if (isMessage<AdmittedMessage>(msg, 'admitted')) host.admitted(msg);
  else if (isMessage<RetireMessage>(msg, 'retire') && msg.threadId === threadId && !retiring) retire(msg.graceMs);
};
(drains as unknown as { unref(): void }).unref();
toMain({ type: 'pool-ready', threadId } satisfies PoolReadyMessage);

/**
 * A rolling restart retires this thread: the balancer gives it no new connection; once the ones
 * it has end (or, after `graceMs`, have been drained) it exits and piscina starts its replacement.
 * The exit waits a moment after the last connection so piscina's answer for that task goes out first.
 */
function retire(graceMs: number): void {
  retiring = true;
  let left = false;
  // A task piscina sent before the balancer heard of the retirement can still arrive (the retire
  // message and piscina's port are not ordered): leave only once the thread has been empty for a
  // moment, and never twice (the final metrics report must go out once).
  const leave = async (): Promise<void> => {
    if (left) return;
    do {
      await host.whenEmpty();
      await new Promise((r) => setTimeout(r, 50));
    } while (host.active > 0);
    if (left) return;
    left = true;
    sendFinalMetrics();
    setTimeout(() => process.exit(0), 50);
  };
  const grace = setTimeout(() => void host.drain().then(leave), graceMs);
  grace.unref();
  void leave().then(() => clearTimeout(grace));
}

export default function serve(task: PoolTask): Promise<ConnectionSummary> | { ready: true; threadId: number } {
  if (task.type === 'ping') return { ready: true, threadId }; // the start-up handshake
  if (Atomics.load(startup.drainFlag, 0) === 1) void host.drain();
  heartbeat.busy(1);
  return host.serve(task.socket as Socket, task.id).finally(() => heartbeat.busy(-1));
}
