// kv-sqlite: a key-value store on node:sqlite, one database file shared by every thread and
// every child process that serves connections. Run it with
//   switchboard serve --handler examples/kv-sqlite/handler.ts
// What it models: the usual small service that keeps its state in an embedded database. Each
// request is synchronous disk I/O on a shared file: a short read (GET) or a short write
// transaction (SET, DEL). What makes it interesting when you choose a concurrency model:
//   - the calls block their thread (node:sqlite is synchronous), but only for microseconds
//     while the pages are in the OS cache, so event-loop may hold up well;
//   - writers take one database-wide lock: SQLite allows one writer at a time across every
//     connection of every thread and process. In WAL mode readers never wait for the writer,
//     but writers wait for each other (busy_timeout), so more threads or processes add lock
//     contention, not write throughput;
//   - every thread and every child opens its own connection (and its own statement cache) on
//     its first request: thread (one thread per connection) and process (one child per
//     connection) pay that on every connection, the pools and event-loop once.
// Durability: WAL with synchronous=NORMAL writes each committed transaction to the WAL file
// before the answer is sent, without an fsync. So a SET that was answered survives a crash or
// kill -9 of the process that served it (the bytes are in the OS page cache; the next opener
// replays the WAL), but not necessarily a power loss or OS crash, which can lose the last few
// transactions (never corrupting the file). synchronous=FULL would fsync every commit.
//
// Database file: $SWITCHBOARD_STATE_DIR/kv.sqlite (the benchmark gives every fresh server its
// own directory), else $KV_DB, else <tmpdir>/switchboard-kv.sqlite. On first open of a new
// database, keys key-0 … key-999 are seeded with deterministic ~100-byte values.
//
// Ops (payloads are bytes; keys are UTF-8, at most 256 bytes; values at most 16 KiB):
//   0x20 GET  key        → 0x20 value            missing key → E_BAD_ARGS "no such key: <key>"
//   0x21 SET  key=value  → 0x21 "OK"             split on the first '='
//   0x22 DEL  key        → 0x22 "1"              missing key → E_BAD_ARGS
//   0x2f WHO             → 0x2f "pid=<pid> thread=<threadId>" (who serves this connection;
//                          not deterministic, so not in the mix: the tests use it)
// Every other op is answered E_UNKNOWN_OP. Standalone: imports nothing from switchboard.
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

interface Context {
  model: string;
  pid: number;
  threadId: number;
  connection: number;
  requests: number;
}

export const GET = 0x20;
export const SET = 0x21;
export const DEL = 0x22;
export const WHO = 0x2f;

export const MAX_KEY_BYTES = 256;
export const MAX_VALUE_BYTES = 16 * 1024;
export const SEED_KEYS = 1000;

/** The seeded value of key-i: deterministic, ~100 bytes. */
export function seedValue(i: number): string {
  return `value-${i}-`.padEnd(100, '.');
}

const fail = (code: string, message: string) => Object.assign(new Error(message), { code });
const badArgs = (message: string) => fail('E_BAD_ARGS', message);

export function databasePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SWITCHBOARD_STATE_DIR) return path.join(env.SWITCHBOARD_STATE_DIR, 'kv.sqlite');
  if (env.KV_DB) return env.KV_DB;
  return path.join(os.tmpdir(), 'switchboard-kv.sqlite');
}

interface Store {
  db: DatabaseSync;
  get: StatementSync;
  set: StatementSync;
  del: StatementSync;
}

// One connection per thread or process (module state is per thread: each worker thread imports
// its own copy of this module), opened on the first request, never shared across threads.
let store: Store | null = null;

function open(): Store {
  const file = databasePath();
  mkdirSync(path.dirname(file), { recursive: true });
  const db = new DatabaseSync(file);
  // busy_timeout first: switching a new file to WAL and seeding it need locks another thread or
  // process may hold at that moment.
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  migrate(db);
  return {
    db,
    get: db.prepare('SELECT v FROM kv WHERE k = ?'),
    set: db.prepare('INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v'),
    del: db.prepare('DELETE FROM kv WHERE k = ?'),
  };
}

/**
 * Creates and seeds the table once per database file. user_version marks it done, so deleting
 * every key does not bring the seed back. BEGIN IMMEDIATE takes the write lock before looking
 * again: of two threads or processes opening a new file at once, one seeds, the other waits
 * (busy_timeout) and then finds it done.
 */
function migrate(db: DatabaseSync): void {
  const version = () => (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
  if (version() >= 1) return;
  db.exec('BEGIN IMMEDIATE');
  try {
    if (version() < 1) {
      db.exec('CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY NOT NULL, v BLOB NOT NULL)');
      const insert = db.prepare('INSERT OR IGNORE INTO kv (k, v) VALUES (?, ?)');
      for (let i = 0; i < SEED_KEYS; i++) insert.run(`key-${i}`, Buffer.from(seedValue(i)));
      db.exec('PRAGMA user_version = 1');
    }
    db.exec('COMMIT');
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseKey(bytes: Buffer): string {
  if (bytes.length === 0) throw badArgs('empty key');
  if (bytes.length > MAX_KEY_BYTES) throw badArgs(`key is ${bytes.length} bytes, at most ${MAX_KEY_BYTES}`);
  try {
    return utf8.decode(bytes);
  } catch {
    throw badArgs('key is not valid UTF-8');
  }
}

function text(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

export function handle(op: number, payload: Buffer, ctx: Context) {
  switch (op) {
    case GET: {
      const key = parseKey(payload);
      store ??= open();
      const row = store.get.get(key) as { v: Uint8Array } | undefined;
      if (!row) throw badArgs(`no such key: ${key}`);
      return { op, payload: row.v };
    }
    case SET: {
      const eq = payload.indexOf(0x3d); // '='
      if (eq < 0) throw badArgs("SET needs key=value (no '=' found)");
      const key = parseKey(payload.subarray(0, eq));
      const value = payload.subarray(eq + 1);
      if (value.length > MAX_VALUE_BYTES) throw badArgs(`value is ${value.length} bytes, at most ${MAX_VALUE_BYTES}`);
      store ??= open();
      store.set.run(key, value);
      return { op, payload: text('OK') };
    }
    case DEL: {
      const key = parseKey(payload);
      store ??= open();
      const { changes } = store.del.run(key);
      if (Number(changes) === 0) throw badArgs(`no such key: ${key}`);
      return { op, payload: text('1') };
    }
    case WHO:
      return { op, payload: text(`pid=${ctx.pid} thread=${ctx.threadId}`) };
    default:
      throw fail('E_UNKNOWN_OP', `kv-sqlite has no op 0x${op.toString(16)}`);
  }
}
