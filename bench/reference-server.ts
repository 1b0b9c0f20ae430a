// The Node ceiling: a bare `net` echo server with no framing, no limits, no model. Because the
// protocol's ECHO is byte-transparent (the answer to a frame is the same frame), the load
// generator drives it exactly like switchboard and checks every answer the same way.
//   node bench/reference-server.ts [--port N] [--host H]
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });

const server = net.createServer((sock) => {
  sock.setNoDelay(true);
  sock.on('error', () => {});
  sock.pipe(sock);
});
server.maxConnections = Infinity;
server.listen({ port: Number(values.port), host: values.host, backlog: 4096 }, () => {
  const a = server.address() as net.AddressInfo;
  console.log(`reference echo listening on ${a.address}:${a.port} (pid ${process.pid})`);
});
const stop = () => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
