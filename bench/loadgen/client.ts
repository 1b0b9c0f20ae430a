// The load generator's own process (forked by run.ts with an IPC channel). It never shares a
// process with the server under test. Protocol with the parent:
//   parent → {type:'run', spec}        child → {type:'ready', connected, idleHeld}
//   parent → {type:'continue'}          child → {type:'measure-start'} … {type:'measure-end'}
//   child → {type:'result', result} | {type:'failed', error}; then the child exits.
import { runLoad, type LoadSpec } from './load.ts';

if (!process.send) {
  console.error('bench/loadgen/client.ts is started by bench/run.ts (it needs an IPC channel); run `node bench/run.ts --help`.');
  process.exit(2);
}
const send = (m: unknown) => process.send!(m);

let proceed: (() => void) | null = null;
process.on('message', (m: { type: string; spec?: LoadSpec }) => {
  if (m.type === 'continue') proceed?.();
  if (m.type !== 'run') return;
  runLoad(m.spec!, {
    onReady: (info) =>
      new Promise<void>((resolve) => {
        proceed = resolve;
        send({ type: 'ready', ...info });
      }),
    onMeasureStart: () => send({ type: 'measure-start' }),
    onMeasureEnd: () => send({ type: 'measure-end' }),
  })
    .then((result) => send({ type: 'result', result }))
    .catch((err: Error) => send({ type: 'failed', error: err.stack ?? err.message }))
    .finally(() => setTimeout(() => process.exit(0), 20));
});
process.on('disconnect', () => process.exit(0));
