// Entry of an `offload` (piscina) worker: runs the real handler for one decoded request per
// task. Errors cross back as data with their protocol code (a thrown Error would lose `code`
// in the structured clone); the reply payload is moved, not copied, when this thread owns it.
import { threadId, workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { errorCodeOf } from '../shared/errors.ts';
import { loadHandler } from '../shared/handler.ts';
import { startHeartbeat } from '../shared/heartbeat.ts';
import type { OffloadReply, OffloadTask, StartupMessage } from '../shared/ipc.ts';

const startup = workerData as StartupMessage;
const handler = await loadHandler(startup.handlerUrl);
const pid = process.pid;
// Watched only while a handler runs: an idle pool thread parks in Atomics.wait and stops beating.
const heartbeat = startHeartbeat(startup.heartbeat, threadId);

export default async function run(task: OffloadTask): Promise<unknown> {
  if (task.op < 0) return { ok: true, op: -1, payload: new Uint8Array(0) } satisfies OffloadReply; // start-up ping
  const input = task.payload;
  const payload = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  heartbeat.busy(1);
  try {
    const { model, connection, requests, maxWork, peer } = task.ctx;
    const result = await handler(task.op, payload, { model, pid, threadId, connection, requests, maxWork, peer });
    const out = result?.payload;
    if (!(out instanceof Uint8Array) || !Number.isInteger(result.op)) {
      // Let the connection's own check answer E_INTERNAL with its usual message.
      return { ok: true, op: -1, payload: new Uint8Array(0) } satisfies OffloadReply;
    }
    // Move the bytes back when we own the whole ArrayBuffer (the echoed input); otherwise copy
    // exactly the view first: transferring a handler's buffer could detach memory it reuses,
    // and cloning a view would copy its whole backing store (often an 8 KiB pool slab).
    const own = out.buffer === input.buffer && out.byteLength === input.buffer.byteLength ? out : new Uint8Array(out);
    const reply: OffloadReply = { ok: true, op: result.op, payload: own };
    return move({ [transferableSymbol]: own.buffer, [valueSymbol]: reply } as never);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, code: errorCodeOf(err), message } satisfies OffloadReply;
  } finally {
    heartbeat.busy(-1);
  }
}
