// A real thread on the other side of two rings (ring.test.ts): `echo` reads each message from
// `requests` (parked in Ring.wait while there is none) and writes it back to `answers`, until the
// request ring is closed; `wait` parks once with a timeout and posts what Ring.wait returned.
import { parentPort, workerData } from 'node:worker_threads';
import { Ring } from '../../src/shared/ring.ts';

const { mode, requests, answers, timeoutMs } = workerData as { mode: 'echo' | 'wait'; requests: SharedArrayBuffer; answers: SharedArrayBuffer; timeoutMs?: number };
const inbox = new Ring(requests);
if (mode === 'wait') {
  parentPort!.postMessage(inbox.wait(timeoutMs));
} else {
  const outbox = new Ring(answers);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  let echoed = 0;
  for (;;) {
    if (inbox.wait() === 'closed') break;
    let msg: Buffer | null;
    while ((msg = inbox.read())) {
      // The answer ring is full until the main thread reads: wait for it (a test's writer may nap).
      while (!outbox.write(msg)) Atomics.wait(nap, 0, 0, 0.05);
      echoed++;
    }
  }
  outbox.close();
  parentPort!.postMessage(echoed);
}
