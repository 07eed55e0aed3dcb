// Mixed cluster: a Node.js socket.io 4.8 server with
// @socket.io/redis-adapter 8.3 and a sio node (./gonode, package
// adapter/redis) share one Redis under a key prefix of their own;
// socket.io-client 4 clients connect to both. Broadcasts, room
// broadcasts, acknowledgements, fetchSockets, socketsJoin/Leave,
// disconnectSockets and server-side events cross in both directions, and
// the emitters of both languages reach the clients of both servers.
//
// Needs Redis on 127.0.0.1:6379 (REDIS_ADDR overrides): without it the
// suite is skipped, or fails under CI=true.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, renameSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { Server } from 'socket.io';
import { io as ioc } from 'socket.io-client';
import { createAdapter } from '@socket.io/redis-adapter';
import { Emitter } from '@socket.io/redis-emitter';
import { createClient } from 'redis';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');
const redisAddr = process.env.REDIS_ADDR || '127.0.0.1:6379';
const redisURL = `redis://${redisAddr}`;
const WAIT = 5000;

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

const up = await redisAnswers();
const skip = !up && process.env.CI !== 'true' ? `Redis at ${redisAddr} does not answer` : false;

if (!up && !skip) {
  test('Redis answers (required under CI=true)', () => {
    assert.fail(`Redis at ${redisAddr} does not answer`);
  });
}

// buildGoNode compiles ./gonode into compat-tests/.bin (renamed into place
// so that concurrent builds never run a half-written file).
function buildGoNode() {
  const binDir = join(repoRoot, 'compat-tests', '.bin');
  const bin = join(binDir, 'cluster-gonode');
  if (process.env.SIO_COMPAT_PREBUILT === '1' && existsSync(bin)) return bin;
  mkdirSync(binDir, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  const r = spawnSync('go', ['build', '-o', tmp, './compat-tests/cluster/gonode'], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 180_000,
  });
  if (r.error || r.status !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`go build ./compat-tests/cluster/gonode failed: ${r.error ?? `exit ${r.status}`}`);
  }
  renameSync(tmp, bin);
  return bin;
}

async function startGoNode(key) {
  const child = spawn(buildGoNode(), ['-watch-stdin', '-redis', redisAddr, '-key', key], {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const line = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error('gonode: no LISTENING line')), 20_000);
    lines.once('line', (l) => { clearTimeout(timer); res(l); });
    child.once('exit', (code) => { clearTimeout(timer); rej(new Error(`gonode exited (${code})`)); });
  });
  const m = /^LISTENING (\d+)$/.exec(line);
  if (!m) {
    child.kill('SIGKILL');
    throw new Error(`gonode: unexpected first line ${JSON.stringify(line)}`);
  }
  const url = `http://127.0.0.1:${m[1]}`;
  return {
    url,
    async ctl(path, body) {
      const res = await fetch(url + '/ctl/' + path, body === undefined ? {} : {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`gonode ${path}: ${res.status} ${text}`);
      return JSON.parse(text);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

const bin = (bytes) => ({ $bin: Buffer.from(bytes).toString('base64') });

// A socket.io-client socket whose events queue up, in order; events with
// an acknowledgement are answered with the client's name.
async function client(url, name, rooms = [], nsp = '/') {
  const socket = ioc(url + nsp, {
    auth: { rooms },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  const queue = [];
  const waiters = [];
  socket.onAny((ev, ...args) => {
    if (typeof args.at(-1) === 'function') args.pop()(name);
    const e = { ev, args };
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
      return e;
    },
  };
  await new Promise((res, rej) => {
    socket.once('connect', res);
    socket.once('connect_error', rej);
  });
  return c;
}

async function eventually(fn, what) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const last = await fn();
    if (last === true) return;
    if (Date.now() > deadline) assert.fail(`${what}: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('mixed Node/Go cluster on the Redis adapter', { skip: skip || !up }, () => {
  const key = `siotest-cluster-${randomBytes(4).toString('hex')}`;
  let pub, sub, io, httpServer, go, nodeURL, emitter;
  let n1, n2, g1, g2;
  const sse = [];
  let all;

  before(async () => {
    pub = createClient({ url: redisURL });
    sub = pub.duplicate();
    pub.on('error', () => {});
    sub.on('error', () => {});
    await Promise.all([pub.connect(), sub.connect()]);
    httpServer = createServer();
    io = new Server(httpServer, { adapter: createAdapter(pub, sub, { key }) });
    for (const nsp of ['/', '/admin']) {
      io.of(nsp).use((socket, next) => {
        socket.join(socket.handshake.auth.rooms ?? []);
        socket.data = { node: 'node' };
        next();
      });
    }
    for (const ev of ['hello-node', 'ask-node']) {
      io.on(ev, (...args) => {
        const ack = typeof args.at(-1) === 'function' ? args.pop() : null;
        sse.push({ event: ev, args });
        if (ack) ack({ from: 'node' });
      });
    }
    await new Promise((r) => httpServer.listen(0, '127.0.0.1', r));
    nodeURL = `http://127.0.0.1:${httpServer.address().port}`;
    go = await startGoNode(key);
    emitter = new Emitter(pub, { key });
    await eventually(async () => (await io.of('/').adapter.serverCount()) === 2 && (await go.ctl('count')) === 2,
      'both servers counted');

    n1 = await client(nodeURL, 'n1', ['r1']);
    n2 = await client(nodeURL, 'n2');
    g1 = await client(go.url, 'g1', ['r1']);
    g2 = await client(go.url, 'g2', ['r2']);
    all = [n1, n2, g1, g2];
  });

  after(async () => {
    for (const c of all ?? []) c.socket.disconnect();
    await go?.stop();
    if (io) await new Promise((r) => io.close(() => r()));
    await Promise.allSettled([pub?.quit(), sub?.quit()]);
  });

  // fence: an event sent after the others by the same origin; each
  // client's next event must be it (Redis keeps the publish order).
  async function fenceFromNode() {
    io.emit('fence');
    for (const c of all) await c.expect('fence', []);
  }
  async function fenceFromGo() {
    await go.ctl('emit', { event: 'fence', args: [] });
    for (const c of all) await c.expect('fence', []);
  }

  test('broadcasts from Node reach the clients of both servers', async () => {
    io.emit('from-node', 1, { a: 'b', c: [true, null, 2.5] });
    for (const c of all) await c.expect('from-node', [1, { a: 'b', c: [true, null, 2.5] }]);

    io.to('r1').emit('r1-from-node', 'x');
    await n1.expect('r1-from-node', ['x']);
    await g1.expect('r1-from-node', ['x']);
    await fenceFromNode();

    io.to(['r1', 'r2']).except('r1').emit('r2-only', Buffer.from([1, 2, 3]));
    const e = await g2.expect('r2-only');
    assert.ok(Buffer.from(e.args[0]).equals(Buffer.from([1, 2, 3])), 'binary from Node');
    await fenceFromNode();

    io.to(g1.socket.id).emit('direct');
    await g1.expect('direct', []);
    await fenceFromNode();
  });

  test('broadcasts from Go reach the clients of both servers', async () => {
    await go.ctl('emit', { event: 'from-go', args: [1, { a: 'b' }, bin([7, 8])] });
    for (const c of all) {
      const e = await c.expect('from-go');
      assert.deepEqual(e.args.slice(0, 2), [1, { a: 'b' }]);
      assert.ok(Buffer.from(e.args[2]).equals(Buffer.from([7, 8])), `${c.name}: binary from Go`);
    }
    await go.ctl('emit', { rooms: ['r1'], event: 'r1-from-go', args: ['y'] });
    await n1.expect('r1-from-go', ['y']);
    await g1.expect('r1-from-go', ['y']);
    await fenceFromGo();

    await go.ctl('emit', { rooms: ['r1', 'r2'], except: [g1.socket.id], event: 'r1-r2-not-g1', args: [] });
    await n1.expect('r1-r2-not-g1', []);
    await g2.expect('r1-r2-not-g1', []);
    await fenceFromGo();

    await go.ctl('emit', { rooms: [n2.socket.id], event: 'direct', args: [{ deep: [bin([0])] }] });
    const e = await n2.expect('direct');
    assert.ok(Buffer.from(e.args[0].deep[0]).equals(Buffer.from([0])));
    await fenceFromGo();
  });

  test('fetchSockets on either side sees the sockets of both', async () => {
    const ids = all.map((c) => c.socket.id).sort();
    const socks = await io.fetchSockets();
    assert.deepEqual(socks.map((s) => s.id).sort(), ids);
    const rg1 = socks.find((s) => s.id === g1.socket.id);
    assert.deepEqual([...rg1.rooms].sort(), [g1.socket.id, 'r1'].sort());
    assert.deepEqual(rg1.data, { node: 'go' });
    assert.deepEqual(rg1.handshake.auth, { rooms: ['r1'] });
    const inR2 = await io.in('r2').fetchSockets();
    assert.deepEqual(inR2.map((s) => s.id), [g2.socket.id]);

    const fromGo = await go.ctl('fetch');
    assert.deepEqual(fromGo.map((s) => s.id).sort(), ids);
    const rn1 = fromGo.find((s) => s.id === n1.socket.id);
    assert.deepEqual([...rn1.rooms].sort(), [n1.socket.id, 'r1'].sort());
    assert.deepEqual(rn1.data, { node: 'node' });
  });

  test('socketsJoin and socketsLeave cross', async () => {
    io.in('r1').socketsJoin('r5');
    await eventually(async () => (await go.ctl('fetch')).filter((s) => s.rooms.includes('r5')).length === 2, 'r5 joined');
    await go.ctl('emit', { rooms: ['r5'], event: 'r5', args: [] });
    await n1.expect('r5', []);
    await g1.expect('r5', []);
    await fenceFromGo();

    await go.ctl('leave', { rooms: ['r5'], leave: ['r5'] });
    await eventually(async () => (await io.in('r5').fetchSockets()).length === 0, 'r5 left');
    await go.ctl('join', { rooms: ['r2'], join: ['r6'] });
    await eventually(async () => (await io.in('r6').fetchSockets()).length === 1, 'r6 joined');
    io.to('r6').emit('r6');
    await g2.expect('r6', []);
    await fenceFromNode();
  });

  test('broadcasts with acknowledgements cross', async () => {
    const replies = await io.timeout(WAIT).emitWithAck('ack-q', 7);
    assert.deepEqual(replies.sort(), ['g1', 'g2', 'n1', 'n2']);
    for (const c of all) await c.expect('ack-q', [7]);

    const fromGo = await go.ctl('emit-ack', { event: 'ack-q', args: [8], timeoutMs: WAIT });
    assert.deepEqual(fromGo.sort(), ['g1', 'g2', 'n1', 'n2']);
    for (const c of all) await c.expect('ack-q', [8]);
  });

  test('the Node emitter reaches the clients of sio', async () => {
    emitter.to('r2').emit('from-node-emitter', Buffer.from([9]), 'z');
    const e = await g2.expect('from-node-emitter');
    assert.ok(Buffer.from(e.args[0]).equals(Buffer.from([9])));
    assert.equal(e.args[1], 'z');
    emitter.except('r1').volatile.emit('not-r1');
    await n2.expect('not-r1', []);
    await g2.expect('not-r1', []);
    emitter.emit('fence');
    for (const c of all) await c.expect('fence', []);
  });

  test('the Go emitter reaches the clients of Node', async () => {
    await go.ctl('goemit', { rooms: ['r1'], event: 'from-go-emitter', args: [bin([4, 2]), 'w'] });
    for (const c of [n1, g1]) {
      const e = await c.expect('from-go-emitter');
      assert.ok(Buffer.from(e.args[0]).equals(Buffer.from([4, 2])));
      assert.equal(e.args[1], 'w');
    }
    await go.ctl('goemit', { except: ['r1'], volatile: true, event: 'not-r1-go', args: [] });
    await n2.expect('not-r1-go', []);
    await g2.expect('not-r1-go', []);
    await go.ctl('goemit', { event: 'fence', args: [] });
    for (const c of all) await c.expect('fence', []);
  });

  test('server-side events cross', async () => {
    io.serverSideEmit('hello-go', 1, 'a');
    await eventually(async () => {
      const got = await go.ctl('sse-received');
      return got.some((e) => e.event === 'hello-go' && JSON.stringify(e.args) === '[1,"a"]') || got;
    }, 'server-side event at the Go node');
    const acks = await io.serverSideEmitWithAck('ask-go');
    assert.deepEqual(acks, [{ from: 'go' }]);

    const fromGo = await go.ctl('sse', { event: 'ask-node', args: [{ q: 1 }], ack: true });
    assert.deepEqual(fromGo, [{ from: 'node' }]);
    await go.ctl('sse', { event: 'hello-node', args: [2] });
    await eventually(() => sse.some((e) => e.event === 'hello-node' && e.args[0] === 2) || sse, 'server-side event at Node');
  });

  test('disconnectSockets crosses', async () => {
    const n3 = await client(nodeURL, 'n3');
    const g3 = await client(go.url, 'g3');
    const nDown = once(n3.socket, 'disconnect');
    await go.ctl('disconnect', { rooms: [n3.socket.id], close: false });
    assert.equal((await nDown)[0], 'io server disconnect');
    const gDown = once(g3.socket, 'disconnect');
    io.in(g3.socket.id).disconnectSockets();
    assert.equal((await gDown)[0], 'io server disconnect');
    const left = (await io.fetchSockets()).map((s) => s.id).sort();
    assert.deepEqual(left, all.map((c) => c.socket.id).sort());
  });
});
