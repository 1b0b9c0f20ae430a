// Capability probe: exits 0 when this Node can move a freshly accepted TCP socket to a
// worker thread (worker.postMessage({ socket }, [socket])), the feature every thread model
// depends on. Checking the capability rather than the version number keeps us honest on
// back-ported or patched builds. Bounded: gives up after 5 s.
import net from 'node:net';
import { Worker } from 'node:worker_threads';

const fail = (why) => { console.error(`cannot transfer sockets: ${why}`); process.exit(1); };
setTimeout(() => fail('timed out'), 5000).unref();

const worker = new Worker(
  `const { parentPort } = require('node:worker_threads');
   parentPort.once('message', ({ socket }) => { socket.end('ok'); parentPort.close(); });`,
  { eval: true },
);
const server = net.createServer({ pauseOnConnect: true }, (socket) => {
  try {
    worker.postMessage({ socket }, [socket]);
  } catch (err) {
    fail(err.code ?? err.message);
  }
});
server.listen(0, '127.0.0.1', () => {
  const client = net.connect(server.address().port, '127.0.0.1');
  let got = '';
  client.on('data', (d) => { got += d; });
  client.on('error', (e) => fail(e.message));
  client.on('close', () => {
    if (got !== 'ok') fail(`worker answered ${JSON.stringify(got)}`);
    process.exit(0);
  });
});
