// The far side of bench/micro/handoff.ts, as a worker thread (workerData.role 'thread'), a pool
// thread on two rings (role 'ring', offload's transport: src/shared/ring.ts) or a forked child
// (argv 'child'): takes a socket or a request, answers at once. Plain JavaScript apart from the
// ring itself, so the benchmark times the hand-off, not our loader.
import { parentPort, workerData } from 'node:worker_threads';
import { Ring } from '../../src/shared/ring.ts';

if (parentPort && workerData?.role === 'thread') {
  parentPort.on('message', (m) => {
    if (m.socket) {
      m.socket.destroy();
      parentPort.postMessage(1);
    } else parentPort.postMessage(m.payload, [m.payload.buffer]); // a request and its answer
  });
} else if (parentPort && workerData?.role === 'ring') {
  // Parked in Atomics.wait until requests come; answers what it read, rings the main loop once after them.
  const inbox = new Ring(workerData.requests);
  const outbox = new Ring(workerData.answers);
  parentPort.postMessage('ready');
  for (;;) {
    if (inbox.wait() === 'closed') break;
    let m;
    while ((m = inbox.read())) outbox.write(m, undefined, false);
    outbox.wake();
  }
} else if (process.argv[2] === 'child') {
  process.on('message', (_m, socket) => {
    socket?.destroy();
    process.send(1);
  });
  process.send('ready');
}
