// An example handler module: `switchboard serve --handler examples/reverse-handler.ts`.
// It is standalone (imports nothing from switchboard), runs unchanged under every model,
// and shows the whole contract:
//   - export `handle(op, payload, context)` (or a default export);
//   - return { op, payload } or a promise of it;
//   - throw an error with `code: 'E_BAD_ARGS'` (any protocol code) to answer that code;
//     anything else thrown becomes E_INTERNAL and the connection stays usable.
// Ops: 0x10 REVERSE (payload reversed), 0x11 UPPER (ASCII upper-cased, async),
//      0x12 WHOAMI (the model and thread/process serving you), 0x1f FAIL (throws).
// Every other op is answered E_UNKNOWN_OP.

interface Context {
  model: string;
  pid: number;
  threadId: number;
  connection: number;
  requests: number;
}

const fail = (code: string, message: string) => Object.assign(new Error(message), { code });

export function handle(op: number, payload: Buffer, ctx: Context) {
  switch (op) {
    case 0x10:
      return { op, payload: Buffer.from(payload).reverse() };
    case 0x11:
      if (payload.length === 0) throw fail('E_BAD_ARGS', 'UPPER needs some text');
      return Promise.resolve({ op, payload: Buffer.from(payload.toString('latin1').toUpperCase(), 'latin1') });
    case 0x12:
      return { op, payload: Buffer.from(`${ctx.model} pid=${ctx.pid} thread=${ctx.threadId} conn=${ctx.connection}`) };
    case 0x1f:
      throw new Error('this op always fails');
    default:
      throw fail('E_UNKNOWN_OP', `reverse-handler has no op 0x${op.toString(16)}`);
  }
}
