// The far side of bench/micro/handoff.ts, as a worker thread (workerData.role 'thread') or a
// forked child (argv 'child'): takes a socket or a request, answers at once. Plain JavaScript, so
// the benchmark times Node's hand-off, not our loader.
import { parentPort, workerData } from 'node:worker_threads';

if (parentPort && workerData?.role === 'thread') {
  parentPort.on('message', (m) => {
    if (m.socket) {
      m.socket.destroy();
      parentPort.postMessage(1);
    } else parentPort.postMessage(m.payload, [m.payload.buffer]); // a request and its answer
  });
} else if (process.argv[2] === 'child') {
  process.on('message', (_m, socket) => {
    socket?.destroy();
    process.send(1);
  });
  process.send('ready');
}
