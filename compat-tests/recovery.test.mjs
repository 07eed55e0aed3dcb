// Connection state recovery with the stock socket.io-client 4.x against
// the Go server started with -recovery: the test cuts the client's
// transport, another client emits to its room meanwhile, and the client
// comes back with the same socket id, rooms and data, and gets the events
// it missed, in order, once.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';

import { start } from './lib/server.mjs';

const WAIT = 5_000;

function waitFor(emitter, event, ms = WAIT) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" within ${ms} ms`)), ms);
    emitter.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

async function connectClient(url, opts) {
  const socket = io(url, { forceNew: true, reconnectionDelay: 50, reconnectionDelayMax: 100, ...opts });
  const got = [];
  socket.on('news', (...args) => got.push(args));
  await waitFor(socket, 'connect');
  return { socket, got };
}

async function waitCount(client, n) {
  const deadline = Date.now() + WAIT;
  while (client.got.length < n) {
    if (Date.now() > deadline) throw new Error(`got ${client.got.length} events, want ${n}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const ack = (socket, ...args) => socket.timeout(WAIT).emitWithAck(...args);

// cut drops the client's transport without a socket.io DISCONNECT: the
// server sees the connection close ("transport close").
async function cut(socket) {
  const disconnected = waitFor(socket, 'disconnect');
  socket.io.engine.close();
  await disconnected;
}

// waitGone waits until the server has recorded the socket's disconnection.
async function waitGone(observer, id) {
  const deadline = Date.now() + WAIT;
  while (Date.now() < deadline) {
    const reason = await ack(observer, 'server-reason', id);
    if (reason) return reason;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`socket ${id} still connected on the server`);
}

let srv;
let short;
before(async () => {
  srv = await start('sioserver', ['-recovery', '2m']);
  short = await start('sioserver', ['-recovery', '300ms']);
});
after(async () => {
  await srv?.stop();
  await short?.stop();
});

for (const transports of [['websocket'], ['polling'], ['polling', 'websocket']]) {
  describe(`connection state recovery, socket.io-client 4.x, ${transports.join('+')}`, () => {

    test('recovers after a cut with the events emitted meanwhile, twice in a row', async () => {
      // a reconnects when the test says so, after the events it misses.
      const a = await connectClient(srv.url, { transports, reconnection: false });
      const b = await connectClient(srv.url, { transports });
      try {
        assert.equal(a.socket.recovered, false);
        const id = a.socket.id;
        assert.equal(await ack(a.socket, 'join', 'room:r'), 'ok');
        assert.equal(await ack(a.socket, 'set-data', { user: 'ann' }), 'ok');
        assert.equal(await ack(b.socket, 'to-room', 'room:r', 'news', 0), 'ok');
        await waitCount(a, 1);
        let next = 1;
        for (const round of [1, 2]) {
          await cut(a.socket);
          await waitGone(b.socket, id);
          for (let i = 0; i < 3; i++) {
            assert.equal(await ack(b.socket, 'to-room', 'room:r', 'news', next++), 'ok');
          }
          assert.equal(await ack(b.socket, 'to-room', 'room:other', 'news', 'not for a'), 'ok');
          const connected = waitFor(a.socket, 'connect');
          a.socket.connect();
          await connected;
          assert.equal(a.socket.recovered, true, `round ${round}: recovered`);
          assert.equal(a.socket.id, id, `round ${round}: same id`);
          const info = await ack(a.socket, 'info');
          assert.equal(info.recovered, true);
          assert.deepEqual(info.rooms.sort(), [id, 'room:r'].sort());
          assert.deepEqual(info.data, { user: 'ann' });
        }
        // Each event once, in order; the offset the server appends is the
        // last argument, as with the Node server.
        await waitCount(a, 7);
        const values = a.got.map((args) => args[0]);
        assert.deepEqual(values, [0, 1, 2, 3, 4, 5, 6]);
        for (const args of a.got) {
          assert.equal(args.length, 2);
          assert.match(args[1], /^\d+-\d+$/);
        }
      } finally {
        a.socket.close();
        b.socket.close();
      }
    });

    test('does not recover after maxDisconnectionDuration', async () => {
      const a = await connectClient(short.url, { transports, reconnection: false });
      const b = await connectClient(short.url, { transports });
      try {
        const id = a.socket.id;
        assert.equal(await ack(a.socket, 'join', 'room:r'), 'ok');
        assert.equal(await ack(b.socket, 'to-room', 'room:r', 'news', 0), 'ok');
        await waitCount(a, 1);
        await cut(a.socket);
        await waitGone(b.socket, id);
        assert.equal(await ack(b.socket, 'to-room', 'room:r', 'news', 1), 'ok');
        await new Promise((r) => setTimeout(r, 600));
        const connected = waitFor(a.socket, 'connect');
        a.socket.connect();
        await connected;
        assert.equal(a.socket.recovered, false);
        assert.notEqual(a.socket.id, id);
        assert.deepEqual(a.got.map((args) => args[0]), [0]);
        const info = await ack(a.socket, 'info');
        assert.deepEqual(info.rooms, [a.socket.id]);
      } finally {
        a.socket.close();
        b.socket.close();
      }
    });
  });
}
