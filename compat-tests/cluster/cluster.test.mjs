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
import { once } from 'node:events';

import { createAdapter } from '@socket.io/redis-adapter';
import { Emitter } from '@socket.io/redis-emitter';
import { createClient } from 'redis';

import {
  WAIT, bin, client, eventually, redisSkip, redisURL, startCluster, testKey,
} from '../lib/cluster.mjs';

const skip = await redisSkip();

describe('mixed Node/Go cluster on the Redis adapter', { skip }, () => {
  const key = testKey('cluster');
  let pub, sub, cluster, io, go, nodeURL, emitter;
  let n1, n2, g1, g2;
  const sse = [];
  let all;

  before(async () => {
    pub = createClient({ url: redisURL });
    sub = pub.duplicate();
    pub.on('error', () => {});
    sub.on('error', () => {});
    await Promise.all([pub.connect(), sub.connect()]);
    cluster = await startCluster({
      key,
      options: { adapter: createAdapter(pub, sub, { key }) },
      namespaces: ['/', '/admin'],
    });
    ({ io, go, nodeURL, n1, n2, g1, g2, all } = cluster);
    for (const ev of ['hello-node', 'ask-node']) {
      io.on(ev, (...args) => {
        const ack = typeof args.at(-1) === 'function' ? args.pop() : null;
        sse.push({ event: ev, args });
        if (ack) ack({ from: 'node' });
      });
    }
    emitter = new Emitter(pub, { key });
  });

  after(async () => {
    await cluster?.close();
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
