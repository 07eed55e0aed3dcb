// The setup of the mixed-cluster tests (compat-tests/cluster): a Node.js
// socket.io server and a Go node (cluster/gonode) sharing one Redis under
// a key of the test's own, and socket.io-client clients of both whose
// events queue up in order.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import { Server } from 'socket.io';
import { io as ioc } from 'socket.io-client';
import { createClient } from 'redis';

import { start } from './server.mjs';

export const redisAddr = process.env.REDIS_ADDR || '127.0.0.1:6379';
export const redisURL = `redis://${redisAddr}`;
export const WAIT = 5000;

// A Redis stream offset: the last argument of a stored event when
// connection state recovery is on.
const OFFSET = /^\d+-\d+$/;

async function redisAnswers() {
  const c = createClient({ url: redisURL, socket: { connectTimeout: 1000, reconnectStrategy: false } });
  c.on('error', () => {});
  try {
    await c.connect();
    await c.ping();
    await c.quit();
    return true;
  } catch {
    return false;
  }
}

// redisSkip is the skip option of a suite that needs Redis: false when
// Redis answers, a reason otherwise. Under CI=true a missing Redis fails:
// redisSkip then adds a failing test (and the suite is still skipped).
export async function redisSkip() {
  if (await redisAnswers()) return false;
  const why = `Redis at ${redisAddr} does not answer`;
  if (process.env.CI === 'true') {
    test('Redis answers (required under CI=true)', () => assert.fail(why));
  }
  return why;
}

// bin stands for binary data in the arguments of gonode's control API.
export const bin = (bytes) => ({ $bin: Buffer.from(bytes).toString('base64') });

// testKey is a Redis key prefix of the test's own.
export const testKey = (name) => `siotest-${name}-${randomBytes(4).toString('hex')}`;

// eventually polls fn until it returns true, failing after WAIT with what
// it returned last.
export async function eventually(fn, what) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const last = await fn();
    if (last === true) return;
    if (Date.now() > deadline) assert.fail(`${what}: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// startGoNode starts cluster/gonode with the key and further flags. The
// returned object has the url, ctl(path, body) to call its control API
// (a GET without body, a POST of body as JSON otherwise; see gonode's
// package comment) and stop().
export async function startGoNode(key, args = []) {
  const node = await start('cluster/gonode', ['-redis', redisAddr, '-key', key, ...args], { startTimeout: 20_000 });
  return {
    url: node.url,
    stop: node.stop,
    async ctl(path, body) {
      const res = await fetch(`${node.url}/ctl/${path}`, body === undefined ? {} : {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`gonode ${path}: ${res.status} ${text}`);
      return JSON.parse(text);
    },
  };
}

// client connects a socket.io-client socket (WebSocket only, no
// reconnection) that joins rooms on either server (auth {rooms}), and
// queues its events, in order: next() returns the next one as {ev, args},
// expect(ev, args) checks it. Events with an acknowledgement are answered
// with the client's name. With offsets (connection state recovery on),
// every stored event ends with its offset: it is split off into `offset`,
// and expect() checks that there is one.
export async function client(url, name, { rooms = [], offsets = false } = {}) {
  const socket = ioc(url, { auth: { rooms }, transports: ['websocket'], forceNew: true, reconnection: false });
  const queue = [];
  const waiters = [];
  socket.onAny((ev, ...args) => {
    if (typeof args.at(-1) === 'function') args.pop()(name);
    const e = { ev, args };
    if (offsets && typeof args.at(-1) === 'string' && OFFSET.test(args.at(-1))) {
      e.offset = args.at(-1);
      e.args = args.slice(0, -1);
    }
    if (waiters.length) waiters.shift()(e);
    else queue.push(e);
  });
  const c = {
    name,
    socket,
    next(timeout = WAIT) {
      if (queue.length) return Promise.resolve(queue.shift());
      return new Promise((res, rej) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          rej(new Error(`${name}: no event after ${timeout} ms`));
        }, timeout);
        const w = (e) => { clearTimeout(timer); res(e); };
        waiters.push(w);
      });
    },
    async expect(ev, args) {
      const e = await c.next();
      assert.equal(e.ev, ev, `${name}: got ${e.ev} ${JSON.stringify(e.args)}, want ${ev}`);
      if (args !== undefined) assert.deepEqual(e.args, args, `${name}: ${ev} arguments`);
      if (offsets) assert.match(e.offset ?? '', OFFSET, `${name}: ${ev} has an offset`);
      return e;
    },
    // none checks that no event came within ms.
    async none(ms = 150) {
      await new Promise((r) => setTimeout(r, ms));
      assert.equal(queue.length, 0, `${name}: unexpected ${JSON.stringify(queue)}`);
    },
  };
  await new Promise((res, rej) => {
    socket.once('connect', res);
    socket.once('connect_error', rej);
  });
  return c;
}

// startCluster starts a Node socket.io server with options (its adapter
// on Redis under key) and a Go node with goArgs, waits until both count
// two servers, and connects four clients: n1 (in room r1) and n2 to Node,
// g1 (in r1) and g2 (in r2) to Go. On Node, as on the Go node, a client
// joins the rooms of its auth payload in each of namespaces and has the
// data {node: 'node'} (the Go node's: {node: 'go'}). close() disconnects
// the clients and stops both servers.
export async function startCluster({ key, options, goArgs = [], namespaces = ['/'], offsets = false }) {
  const httpServer = createServer();
  const io = new Server(httpServer, options);
  for (const nsp of namespaces) {
    io.of(nsp).use((socket, next) => {
      socket.join(socket.handshake.auth.rooms ?? []);
      socket.data = { node: 'node' };
      next();
    });
  }
  await new Promise((r) => httpServer.listen(0, '127.0.0.1', r));
  const nodeURL = `http://127.0.0.1:${httpServer.address().port}`;
  let go;
  const cluster = {
    io,
    nodeURL,
    async close() {
      for (const c of cluster.all ?? []) c.socket.disconnect();
      await go?.stop();
      await new Promise((r) => io.close(() => r()));
    },
  };
  try {
    go = await startGoNode(key, goArgs);
    cluster.go = go;
    await eventually(async () => (await io.of('/').adapter.serverCount()) === 2 && (await go.ctl('count')) === 2,
      'both servers counted');
    cluster.n1 = await client(nodeURL, 'n1', { rooms: ['r1'], offsets });
    cluster.n2 = await client(nodeURL, 'n2', { offsets });
    cluster.g1 = await client(go.url, 'g1', { rooms: ['r1'], offsets });
    cluster.g2 = await client(go.url, 'g2', { rooms: ['r2'], offsets });
    cluster.all = [cluster.n1, cluster.n2, cluster.g1, cluster.g2];
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}
