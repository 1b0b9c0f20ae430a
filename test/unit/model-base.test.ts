// ModelBase's shared lifecycle through a tiny in-process subclass: connections are served right
// here with serveConnection over real local sockets, at most `capacity` at once, the rest wait in
// a WaitQueue. The accept loop's tickets are FakeTickets that refuse for real (forward), so both
// what the model told the ticket and what the peer received are checked.
import type { Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ConnectionTicket } from '../../src/shared/accept-loop.ts';
import { handle } from '../../src/shared/builtin-handler.ts';
import { DEFAULT_OPTIONS, connectionLimits } from '../../src/shared/config.ts';
import { serveConnection, type Connection } from '../../src/shared/connection.ts';
import { SwitchboardError } from '../../src/shared/errors.ts';
import { BUILTIN_HANDLER, type Handler } from '../../src/shared/handler.ts';
import { createLogger } from '../../src/shared/log.ts';
import { Op, parseError } from '../../src/shared/protocol.ts';
import { ModelBase, type ModelState } from '../../src/models/model.ts';
import { WaitQueue } from '../../src/models/wait-queue.ts';
import { FakeTicket, controlledHandler, describeFrame, localServer, sleep, waitFor, within, type LocalServer, type Peer } from './local-net.ts';

interface TestModelOptions {
  handler?: Handler;
  /** Connections served at once; the rest wait in the queue. */
  capacity?: number;
  /** 'counters': connections add to this.counters live (in-process); 'summary': addSummary() when each ends (remote). */
  report?: 'counters' | 'summary';
  /** onAccept keeps the socket and ticket without serving (to drive the tracked ticket by hand). */
  hold?: boolean;
  /** onDrain drains connections (else it leaves them to finish by themselves). */
  drainConnections?: boolean;
  /** onClose destroys connections (else it leaves them open). */
  destroyOnClose?: boolean;
}

class TestModel extends ModelBase {
  /** Every hook call, with the state seen inside it. */
  readonly hooks: string[] = [];
  readonly held: { socket: Socket; ticket: ConnectionTicket }[] = [];
  readonly connections = new Set<Connection>();
  readonly queue = new WaitQueue(0, 'a test slot');
  startGate: Promise<void> = Promise.resolve();
  readonly #o: Required<TestModelOptions>;
  readonly #limits = connectionLimits({ ...DEFAULT_OPTIONS, idleTimeoutMs: 0 });

  constructor(o: TestModelOptions = {}) {
    super('unit-model', { options: DEFAULT_OPTIONS, handlerUrl: BUILTIN_HANDLER, log: createLogger('silent') });
    this.#o = { handler: handle, capacity: Infinity, report: 'counters', hold: false, drainConnections: true, destroyOnClose: true, ...o };
  }

  protected async onStart(): Promise<void> {
    this.hooks.push(`start:${this.state}`);
    await this.startGate;
  }

  protected onAccept(socket: Socket, ticket: ConnectionTicket): void {
    this.hooks.push(`accept:${this.state}`);
    if (this.#o.hold) this.held.push({ socket, ticket });
    else if (this.connections.size >= this.#o.capacity) this.queue.push(socket, ticket);
    else this.#serve(socket, ticket);
  }

  #serve(socket: Socket, ticket: ConnectionTicket): void {
    const conn = serveConnection(socket, {
      handler: this.#o.handler,
      model: this.name,
      connection: ticket.id,
      limits: this.#limits,
      counters: this.#o.report === 'counters' ? this.counters : undefined,
    });
    this.connections.add(conn);
    void conn.done.then((summary) => {
      this.connections.delete(conn);
      if (this.#o.report === 'summary') this.addSummary(summary);
      ticket.closed(summary);
      const next = this.queue.shift();
      if (next) this.#serve(next.socket, next.ticket);
    });
  }

  protected async onDrain(): Promise<void> {
    this.hooks.push(`drain:${this.state}`);
    this.queue.refuseAll('E_SHUTTING_DOWN', 'draining: not served');
    if (this.#o.drainConnections) for (const c of this.connections) c.drain();
  }

  protected async onClose(): Promise<void> {
    this.hooks.push(`close:${this.state}`);
    this.queue.destroyAll();
    if (this.#o.destroyOnClose) for (const c of this.connections) c.destroy();
  }

  protected queued(): number {
    return this.queue.length;
  }

  protected workers(): number {
    return this.connections.size;
  }

  protected extraStats(): Record<string, unknown> {
    return { hooks: this.hooks.length };
  }
}

function model(o: TestModelOptions = {}): TestModel {
  const m = new TestModel(o);
  onTestFinished(() => m.close().catch(() => {}));
  return m;
}

interface Arrival {
  peer: Peer;
  socket: Socket;
  ticket: FakeTicket;
}

/** A new connection from the accept loop: an unread accepted socket and its ticket. */
async function arrive(server: LocalServer, id: number): Promise<Arrival> {
  const { peer, server: socket } = await server.connect();
  return { peer, socket, ticket: new FakeTicket(id, { forward: true }) };
}

function acceptInto(m: TestModel, a: Arrival): void {
  m.accept(a.socket, a.ticket);
}

/** The ticket was refused E_SHUTTING_DOWN by the model, and the peer got that frame and a close. */
async function expectShutDown(a: Arrival): Promise<void> {
  expect(a.ticket.calls).toEqual([{ type: 'refuse', socket: a.socket, code: 'E_SHUTTING_DOWN', message: 'server is shutting down' }]);
  await a.peer.untilEnded();
  expect(a.peer.frames.map(describeFrame)).toEqual(['ERR:E_SHUTTING_DOWN']);
}

async function echo(peer: Peer, s: string): Promise<void> {
  const n = peer.frames.length;
  peer.send(Op.ECHO, s);
  const frames = await peer.frameCount(n + 1);
  expect(describeFrame(frames[n]!)).toBe(`1:${s}`);
}

describe('lifecycle', () => {
  it('goes idle → starting → running → draining → closed, each hook seeing the state it runs in', async () => {
    const m = model();
    const seen: ModelState[] = [m.state];
    let release!: () => void;
    m.startGate = new Promise((r) => (release = r));
    const started = m.start();
    seen.push(m.state);
    release();
    await started;
    seen.push(m.state);
    const drained = m.drain();
    seen.push(m.state);
    await drained;
    seen.push(m.state);
    await m.close();
    seen.push(m.state);
    expect(seen).toEqual(['idle', 'starting', 'running', 'draining', 'draining', 'closed']);
    expect(m.hooks).toEqual(['start:starting', 'drain:draining', 'close:draining']);
    expect(m.stats().state).toBe('closed');
  });

  it('start() a second time is an ERR_MODEL_STATE SwitchboardError, while starting and after', async () => {
    const m = model();
    let release!: () => void;
    m.startGate = new Promise((r) => (release = r));
    const first = m.start();
    const whileStarting = await m.start().catch((e: unknown) => e);
    expect(whileStarting).toBeInstanceOf(SwitchboardError);
    expect(whileStarting).toMatchObject({ code: 'ERR_MODEL_STATE', message: 'unit-model: start() called twice' });
    release();
    await first;
    expect(m.state).toBe('running');
    await expect(m.start()).rejects.toMatchObject({ code: 'ERR_MODEL_STATE' });
    expect(m.hooks.filter((h) => h.startsWith('start'))).toHaveLength(1);
  });

  it('start() after close() is refused too, and close() before start() still reaches closed', async () => {
    const m = model();
    await m.close();
    expect(m.state).toBe('closed');
    await expect(m.start()).rejects.toMatchObject({ code: 'ERR_MODEL_STATE' });
    expect(m.hooks).toEqual(['close:draining']);
  });

  it('a close() during start() wins: the model ends closed, not running', async () => {
    const m = model();
    let release!: () => void;
    m.startGate = new Promise((r) => (release = r));
    const started = m.start();
    await m.close();
    release();
    await started;
    expect(m.state).toBe('closed');
  });

  it('close() is idempotent: one onClose, the same promise', async () => {
    const m = model();
    await m.start();
    const a = m.close();
    const b = m.close();
    expect(b).toBe(a);
    await a;
    await m.close();
    expect(m.hooks.filter((h) => h.startsWith('close'))).toHaveLength(1);
  });

  it('drain() is idempotent: one onDrain, the same promise', async () => {
    const m = model();
    await m.start();
    const a = m.drain();
    expect(m.drain()).toBe(a);
    await a;
    expect(m.hooks.filter((h) => h.startsWith('drain'))).toHaveLength(1);
  });
});

describe('accept', () => {
  it('refuses with E_SHUTTING_DOWN before start() and while starting, without calling onAccept', async () => {
    const server = await localServer();
    const m = model();
    const before = await arrive(server, 1);
    acceptInto(m, before);
    let release!: () => void;
    m.startGate = new Promise((r) => (release = r));
    const started = m.start();
    const during = await arrive(server, 2);
    acceptInto(m, during);
    release();
    await started;
    await expectShutDown(before);
    await expectShutDown(during);
    expect(m.hooks).toEqual(['start:starting']);
    expect(m.stats().connections).toEqual({ accepted: 0, active: 0, queued: 0, oldestWaitMs: 0, refused: 2 });
  });

  it('serves once running, and closes the ticket once with the summary when the connection ends', async () => {
    const server = await localServer();
    const m = model();
    await m.start();
    const a = await arrive(server, 7);
    acceptInto(m, a);
    expect(m.hooks).toEqual(['start:starting', 'accept:running']);
    await echo(a.peer, 'hello');
    expect(m.stats().connections).toEqual({ accepted: 1, active: 1, queued: 0, oldestWaitMs: 0, refused: 0 });
    a.peer.socket.end();
    await waitFor(() => a.ticket.closes > 0, 'the ticket to be closed');
    await sleep(20);
    expect(a.ticket.calls).toEqual([{ type: 'closed', summary: { requests: 1, errors: 0, reason: 'eof' } }]);
    expect(m.stats().connections).toEqual({ accepted: 1, active: 0, queued: 0, oldestWaitMs: 0, refused: 0 });
  });

  it('refuses with E_SHUTTING_DOWN once draining, and after close', async () => {
    const server = await localServer();
    const m = model();
    await m.start();
    const drained = m.drain();
    const whileDraining = await arrive(server, 1);
    acceptInto(m, whileDraining);
    await drained;
    await m.close();
    const afterClose = await arrive(server, 2);
    acceptInto(m, afterClose);
    await expectShutDown(whileDraining);
    await expectShutDown(afterClose);
    expect(m.hooks.filter((h) => h.startsWith('accept'))).toEqual([]);
    expect(m.stats().connections).toMatchObject({ accepted: 0, refused: 2 });
  });
});

describe('drain and close with connections open', () => {
  it('drain() resolves only once the active connections have closed', async () => {
    const server = await localServer();
    const { handler, calls } = controlledHandler();
    const m = model({ handler });
    await m.start();
    const a = await arrive(server, 1);
    acceptInto(m, a);
    a.peer.send(Op.SLEEP, 'slow');
    await waitFor(() => calls.length === 1, 'the request');
    let drained = false;
    const draining = m.drain().then(() => (drained = true));
    await sleep(250); // well past the connection's drain grace
    expect(drained, 'a request is still outstanding').toBe(false);
    expect(m.state).toBe('draining');
    expect(m.stats().connections.active).toBe(1);
    calls[0]!.resolve();
    await within(draining, 'drain() to resolve');
    expect(a.peer.frames.map(describeFrame)).toEqual(['3:slow']);
    await a.peer.untilEnded();
    expect(a.ticket.calls).toEqual([{ type: 'closed', summary: { requests: 1, errors: 0, reason: 'drained' } }]);
    expect(m.stats().connections.active).toBe(0);
    expect(m.state, 'drain does not close the model').toBe('draining');
  });

  it('drain() waits for connections onDrain leaves alone, until their peers leave', async () => {
    const server = await localServer();
    const m = model({ drainConnections: false });
    await m.start();
    const a = await arrive(server, 1);
    const b = await arrive(server, 2);
    acceptInto(m, a);
    acceptInto(m, b);
    let drained = false;
    const draining = m.drain().then(() => (drained = true));
    await echo(a.peer, 'still served while draining');
    a.peer.socket.end();
    await waitFor(() => a.ticket.closes === 1, 'a to close');
    await sleep(50);
    expect(drained, 'b is still open').toBe(false);
    b.peer.socket.end();
    await within(draining, 'drain() to resolve');
  });

  it('close() destroys what is open, closing each ticket as destroyed, and settles a pending drain()', async () => {
    const server = await localServer();
    const m = model({ drainConnections: false });
    await m.start();
    const a = await arrive(server, 1);
    acceptInto(m, a);
    await echo(a.peer, 'x');
    let drained = false;
    const draining = m.drain().then(() => (drained = true));
    await sleep(50);
    expect(drained).toBe(false);
    await m.close();
    await within(draining, 'drain() to resolve');
    await a.peer.untilClosed();
    await waitFor(() => a.ticket.closes === 1, 'the ticket to be closed');
    expect(a.ticket.calls).toEqual([{ type: 'closed', summary: { requests: 1, errors: 0, reason: 'destroyed' } }]);
    expect(m.state).toBe('closed');
  });

  it('close() settles a pending drain() even when onClose leaves a connection open', async () => {
    const server = await localServer();
    const m = model({ drainConnections: false, destroyOnClose: false });
    await m.start();
    const a = await arrive(server, 1);
    acceptInto(m, a);
    const draining = m.drain();
    await m.close();
    await within(draining, 'drain() to resolve');
    expect(m.stats().connections.active, 'the connection itself is still open').toBe(1);
    expect(a.peer.ended).toBe(false);
  });
});

describe('stats', () => {
  it('counts requests and errors live from in-process connections (this.counters)', async () => {
    const server = await localServer();
    const m = model({ report: 'counters' });
    await m.start();
    const a = await arrive(server, 1);
    acceptInto(m, a);
    a.peer.send(Op.ECHO, 'one');
    a.peer.send(0x42);
    await a.peer.frameCount(2);
    expect(m.stats()).toMatchObject({ requests: 2, errors: 1 });
  });

  it('counts requests and errors from addSummary when each connection ends (remote models)', async () => {
    const server = await localServer();
    const m = model({ report: 'summary' });
    await m.start();
    const a = await arrive(server, 1);
    const b = await arrive(server, 2);
    acceptInto(m, a);
    acceptInto(m, b);
    a.peer.send(Op.ECHO, 'one');
    a.peer.send(0x42);
    await a.peer.frameCount(2);
    await echo(b.peer, 'two');
    expect(m.stats(), 'nothing until a connection ends').toMatchObject({ requests: 0, errors: 0 });
    a.peer.socket.end();
    await waitFor(() => a.ticket.closes === 1, 'a to close');
    expect(m.stats()).toMatchObject({ requests: 2, errors: 1 });
    b.peer.socket.end();
    await waitFor(() => b.ticket.closes === 1, 'b to close');
    expect(m.stats()).toMatchObject({ requests: 3, errors: 1 });
  });

  it('reports queued connections, and a queued one refused by the model as refused (its ticket refused, not closed)', async () => {
    const server = await localServer();
    const m = model({ capacity: 1 });
    await m.start();
    const a = await arrive(server, 1);
    const b = await arrive(server, 2);
    const c = await arrive(server, 3);
    for (const x of [a, b, c]) acceptInto(m, x);
    expect(m.stats()).toMatchObject({
      model: 'unit-model',
      state: 'running',
      connections: { accepted: 3, active: 3, queued: 2, refused: 0 },
      workers: 1,
    });
    a.peer.socket.end(); // frees the slot: b is served next
    await waitFor(() => m.stats().connections.queued === 1, 'b to leave the queue');
    await echo(b.peer, 'b served');
    expect(m.stats().connections).toEqual({ accepted: 3, active: 2, queued: 1, oldestWaitMs: 0, refused: 0 });
    void m.drain(); // refuses c from the queue
    await c.peer.untilEnded();
    expect(c.peer.frames.map((f) => parseError(f.payload))).toEqual([{ code: 'E_SHUTTING_DOWN', message: 'draining: not served' }]);
    expect(c.ticket.calls.map((x) => x.type)).toEqual(['refuse']);
    expect(m.stats().connections).toMatchObject({ accepted: 3, queued: 0, refused: 1 });
    expect(m.stats().extra).toEqual({ hooks: m.hooks.length });
  });

  it("the model's ticket forwards closed() and refuse() once each; a refuse after closed() only destroys the socket", async () => {
    const server = await localServer();
    const m = model({ hold: true });
    await m.start();
    const a = await arrive(server, 1);
    const b = await arrive(server, 2);
    acceptInto(m, a);
    acceptInto(m, b);
    const [ta, tb] = m.held.map((h) => h.ticket);
    expect([ta!.id, ta!.remoteAddress]).toEqual([1, '127.0.0.1']);
    expect(m.stats().connections).toMatchObject({ accepted: 2, active: 2 });

    ta!.closed({ requests: 4, errors: 1, reason: 'eof' });
    ta!.closed({ requests: 9, errors: 9, reason: 'eof' });
    expect(a.ticket.calls).toEqual([{ type: 'closed', summary: { requests: 4, errors: 1, reason: 'eof' } }]);
    expect(m.stats().connections).toMatchObject({ active: 1, refused: 0 });
    ta!.refuse(a.socket, 'E_BUSY', 'too late');
    expect(a.socket.destroyed).toBe(true);
    expect(a.ticket.refusals).toEqual([]);
    expect(m.stats().connections).toMatchObject({ active: 1, refused: 0 });

    tb!.refuse(b.socket, 'E_BUSY', 'queue full');
    tb!.refuse(b.socket, 'E_BUSY', 'queue full');
    tb!.closed();
    expect(b.ticket.calls.map((x) => x.type)).toEqual(['refuse']);
    expect(m.stats().connections).toEqual({ accepted: 2, active: 0, queued: 0, oldestWaitMs: 0, refused: 1 });
    await b.peer.untilEnded();
    expect(b.peer.frames.map(describeFrame)).toEqual(['ERR:E_BUSY']);
  });
});
