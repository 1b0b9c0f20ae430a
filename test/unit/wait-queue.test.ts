// WaitQueue on its own: real, unread accepted sockets from a local listening socket, tickets that
// record what they are told (FakeTicket; with `forward` they refuse for real, as the accept
// loop's do, so the peer's view can be checked too). Time is faked where order matters, so the
// queue-timeout checks step exactly to each deadline instead of sleeping.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Socket } from 'node:net';
import { WaitQueue } from '../../src/models/wait-queue.ts';
import { parseError } from '../../src/shared/protocol.ts';
import { FakeTicket, describeFrame, localServer, type Peer } from './local-net.ts';

interface Conn {
  peer: Peer;
  socket: Socket;
  ticket: FakeTicket;
}

async function connections(n: number, { forward = false } = {}): Promise<Conn[]> {
  const server = await localServer();
  const out: Conn[] = [];
  for (let i = 1; i <= n; i++) {
    const { peer, server: socket } = await server.connect();
    out.push({ peer, socket, ticket: new FakeTicket(i, { forward }) });
  }
  return out;
}

/** Fakes setTimeout and performance.now (what WaitQueue times with); sockets stay real. */
function fakeTime(): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
}

afterEach(() => {
  vi.useRealTimers();
});

const refusedIds = (conns: Conn[]) => conns.filter((c) => c.ticket.refusals.length > 0).map((c) => c.ticket.id);

describe('order and length', () => {
  it('starts empty; shift takes the oldest, pop the newest; length follows', async () => {
    const [a, b, c] = await connections(3);
    const q = new WaitQueue(0, 'a slot');
    expect(q.length).toBe(0);
    for (const x of [a!, b!, c!]) q.push(x.socket, x.ticket);
    expect(q.length).toBe(3);
    const first = q.shift()!;
    expect(first.socket).toBe(a!.socket);
    expect(first.ticket).toBe(a!.ticket);
    const newest = q.pop()!;
    expect(newest.ticket).toBe(c!.ticket);
    expect(q.length).toBe(1);
    expect(q.shift()!.ticket).toBe(b!.ticket);
    expect(q.shift()).toBeUndefined();
    expect(q.pop()).toBeUndefined();
    expect(q.length).toBe(0);
  });

  it('unshift puts a connection back at the front with the time it first started waiting', async () => {
    fakeTime();
    const [a, b] = await connections(2);
    const q = new WaitQueue(0, 'a slot');
    q.push(a!.socket, a!.ticket);
    vi.advanceTimersByTime(10);
    q.push(b!.socket, b!.ticket);
    const w = q.shift()!;
    const since = w.since;
    vi.advanceTimersByTime(25);
    q.unshift(w);
    const again = q.shift()!;
    expect(again.ticket).toBe(a!.ticket);
    expect(again.since).toBe(since);
    expect(q.shift()!.since - since).toBe(10);
  });
});

describe('queue-timeout', () => {
  it('refuses a connection that waited queue-timeout with E_BUSY through its ticket, and counts it', async () => {
    fakeTime();
    const [a, b] = await connections(2);
    const q = new WaitQueue(100, 'a connection thread');
    q.push(a!.socket, a!.ticket);
    vi.advanceTimersByTime(60);
    q.push(b!.socket, b!.ticket);
    vi.advanceTimersByTime(39);
    expect(refusedIds([a!, b!]), 'nobody due at 99 ms').toEqual([]);
    vi.advanceTimersByTime(1);
    expect(a!.ticket.calls).toEqual([
      { type: 'refuse', socket: a!.socket, code: 'E_BUSY', message: 'waited 0.1 s for a connection thread; try again later' },
    ]);
    expect(b!.ticket.calls, 'b has waited only 40 ms').toEqual([]);
    expect(q.expired).toBe(1);
    expect(q.length).toBe(1);
    vi.advanceTimersByTime(59);
    expect(b!.ticket.calls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(b!.ticket.refusals.map((r) => r.code)).toEqual(['E_BUSY']);
    expect(q.expired).toBe(2);
    expect(q.length).toBe(0);
  });

  it('refuses every connection due at once, oldest first', async () => {
    fakeTime();
    const conns = await connections(3);
    const q = new WaitQueue(100, 'a child process');
    const order: number[] = [];
    for (const c of conns) {
      const refuse = c.ticket.refuse;
      c.ticket.refuse = (s, code, message) => {
        order.push(c.ticket.id);
        refuse(s, code, message);
      };
      q.push(c.socket, c.ticket);
    }
    vi.advanceTimersByTime(100);
    expect(order).toEqual([1, 2, 3]);
    expect(q.expired).toBe(3);
    expect(q.length).toBe(0);
  });

  it('never refuses a connection taken off the queue in time; the next one still gets its full wait', async () => {
    fakeTime();
    const [a, b] = await connections(2);
    const q = new WaitQueue(100, 'a slot');
    q.push(a!.socket, a!.ticket);
    vi.advanceTimersByTime(50);
    q.push(b!.socket, b!.ticket);
    vi.advanceTimersByTime(20);
    expect(q.shift()!.ticket).toBe(a!.ticket); // handed to a thread at 70 ms
    vi.advanceTimersByTime(79); // 149 ms: b has waited 99
    expect(refusedIds([a!, b!])).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(refusedIds([a!, b!])).toEqual([2]);
    expect(q.expired).toBe(1);
  });

  it('times a connection pushed after the queue ran empty from its own arrival', async () => {
    fakeTime();
    const [a, b] = await connections(2);
    const q = new WaitQueue(100, 'a slot');
    q.push(a!.socket, a!.ticket);
    vi.advanceTimersByTime(100);
    expect(q.expired).toBe(1);
    vi.advanceTimersByTime(400);
    q.push(b!.socket, b!.ticket);
    vi.advanceTimersByTime(99);
    expect(b!.ticket.calls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(b!.ticket.refusals).toHaveLength(1);
    expect(q.expired).toBe(2);
  });

  it('with queue-timeout 0 never refuses anyone and arms no timer', async () => {
    fakeTime();
    const [a] = await connections(1);
    const q = new WaitQueue(0, 'a slot');
    q.push(a!.socket, a!.ticket);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(3_600_000);
    expect(a!.ticket.calls).toEqual([]);
    expect(q.expired).toBe(0);
    expect(q.length).toBe(1);
  });

  it('the peer of an expired connection receives E_BUSY and a close (real time, forwarding ticket)', async () => {
    const [a] = await connections(1, { forward: true });
    const q = new WaitQueue(100, 'a connection thread');
    q.push(a!.socket, a!.ticket);
    await a!.peer.untilEnded();
    expect(a!.peer.frames).toHaveLength(1);
    expect(parseError(a!.peer.frames[0]!.payload)).toEqual({ code: 'E_BUSY', message: 'waited 0.1 s for a connection thread; try again later' });
    expect(q.expired).toBe(1);
  });
});

describe('refuseAll and destroyAll', () => {
  it('refuseAll refuses every waiting connection but the `keep` oldest, with the given code, newest last', async () => {
    const conns = await connections(4);
    const q = new WaitQueue(0, 'a slot');
    for (const c of conns) q.push(c.socket, c.ticket);
    q.refuseAll('E_SHUTTING_DOWN', 'draining', 1);
    expect(q.length).toBe(1);
    expect(refusedIds(conns)).toEqual([2, 3, 4]);
    for (const c of conns.slice(1)) {
      expect(c.ticket.calls).toEqual([{ type: 'refuse', socket: c.socket, code: 'E_SHUTTING_DOWN', message: 'draining' }]);
    }
    expect(conns[0]!.ticket.calls).toEqual([]);
    expect(q.expired, 'refuseAll is not a timeout').toBe(0);
    q.refuseAll('E_BUSY', 'no child process is running');
    expect(q.length).toBe(0);
    expect(conns[0]!.ticket.refusals.map((r) => r.code)).toEqual(['E_BUSY']);
  });

  it('peers refused by refuseAll receive the code and a close; the kept one stays open', async () => {
    const conns = await connections(3, { forward: true });
    const q = new WaitQueue(0, 'a slot');
    for (const c of conns) q.push(c.socket, c.ticket);
    q.refuseAll('E_SHUTTING_DOWN', 'server is shutting down', 1);
    await conns[1]!.peer.untilEnded();
    await conns[2]!.peer.untilEnded();
    expect(conns.slice(1).map((c) => c.peer.frames.map(describeFrame))).toEqual([['ERR:E_SHUTTING_DOWN'], ['ERR:E_SHUTTING_DOWN']]);
    expect(conns[0]!.peer.ended).toBe(false);
    expect(conns[0]!.peer.frames).toEqual([]);
  });

  it('destroyAll destroys every waiting socket and closes each ticket once as destroyed; none is refused later', async () => {
    fakeTime();
    const conns = await connections(2);
    const q = new WaitQueue(100, 'a slot');
    for (const c of conns) q.push(c.socket, c.ticket);
    q.destroyAll();
    expect(q.length).toBe(0);
    for (const c of conns) {
      expect(c.socket.destroyed).toBe(true);
      expect(c.ticket.calls).toEqual([{ type: 'closed', summary: { reason: 'destroyed' } }]);
    }
    vi.advanceTimersByTime(1_000);
    expect(q.expired).toBe(0);
    expect(conns.map((c) => c.ticket.refusals.length)).toEqual([0, 0]);
    vi.useRealTimers();
    for (const c of conns) await c.peer.untilClosed();
    expect(conns.map((c) => c.peer.frames.length), 'dropped without a frame').toEqual([0, 0]);
  });
});
