// Mixed cluster on Redis streams: a Node.js socket.io 4.8 server with
// @socket.io/redis-streams-adapter 0.3.1 and a sio node (./gonode with
// -adapter streams, package adapter/redisstreams) share one stream and one
// channel prefix of their own, both with connection state recovery on.
// Broadcasts and room broadcasts cross in both directions with the same
// offsets on both sides, fetchSockets sees the sockets of both, and a
// client cut off from one server recovers on the other (same id, rooms,
// data, and the events it missed).
//
// Needs Redis on 127.0.0.1:6379 (REDIS_ADDR overrides): without it the
// suite is skipped, or fails under CI=true.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';

import { createAdapter } from '@socket.io/redis-streams-adapter';
import { createClient } from 'redis';

import {
  WAIT, bin, client, eventually, redisSkip, redisURL, startCluster, testKey,
} from '../lib/cluster.mjs';

const skip = await redisSkip();

describe('mixed Node/Go cluster on the Redis streams adapter', { skip }, () => {
  const key = testKey('streams');
  let redis, cluster, io, go, nodeURL;
  let n1, n2, g1, g2;
  let all;

  before(async () => {
    redis = createClient({ url: redisURL });
    redis.on('error', () => {});
    await redis.connect();
    cluster = await startCluster({
      key,
      options: {
        adapter: createAdapter(redis, { streamName: key, channelPrefix: key, sessionKeyPrefix: `${key}:session:` }),
        connectionStateRecovery: { maxDisconnectionDuration: 60_000 },
      },
      goArgs: ['-adapter', 'streams', '-recovery', '1m'],
      // With recovery on, every stored event ends with its offset.
      offsets: true,
    });
    ({ io, go, nodeURL, n1, n2, g1, g2, all } = cluster);
  });

  after(async () => {
    await cluster?.close();
    if (redis?.isOpen) {
      const keys = [key, ...(await redis.keys(`${key}:*`))];
      await redis.del(keys);
      await redis.quit();
    }
  });

  // Each broadcast reaches its clients with one offset, the same on both
  // servers.
  async function expectAll(clients, ev, args) {
    const offsets = new Set();
    for (const c of clients) offsets.add((await c.expect(ev, args)).offset);
    assert.equal(offsets.size, 1, `${ev}: offsets ${[...offsets]}`);
    return [...offsets][0];
  }

  test('broadcasts from Node reach the clients of both servers, with one offset', async () => {
    io.emit('from-node', 1, { a: 'b', c: [true, null, 2.5] });
    await expectAll(all, 'from-node', [1, { a: 'b', c: [true, null, 2.5] }]);

    io.to('r1').emit('r1-from-node', 'x');
    await expectAll([n1, g1], 'r1-from-node', ['x']);

    io.to(['r1', 'r2']).except('r1').emit('r2-only', Buffer.from([1, 2, 3]));
    const e = await g2.expect('r2-only');
    assert.ok(Buffer.from(e.args[0]).equals(Buffer.from([1, 2, 3])), 'binary from Node');

    io.volatile.to(g1.socket.id).emit('volatile');
    const v = await g1.next();
    assert.equal(v.ev, 'volatile');
    assert.equal(v.offset, undefined, 'no offset on a volatile event');

    io.emit('fence');
    await expectAll(all, 'fence', []);
  });

  test('broadcasts from Go reach the clients of both servers, with one offset', async () => {
    await go.ctl('emit', { event: 'from-go', args: [1, { a: 'b' }, bin([7, 8])] });
    const offsets = new Set();
    for (const c of all) {
      const e = await c.expect('from-go');
      assert.deepEqual(e.args.slice(0, 2), [1, { a: 'b' }]);
      assert.ok(Buffer.from(e.args[2]).equals(Buffer.from([7, 8])), `${c.name}: binary from Go`);
      offsets.add(e.offset);
    }
    assert.equal(offsets.size, 1);

    await go.ctl('emit', { rooms: ['r1'], event: 'r1-from-go', args: ['y'] });
    await expectAll([n1, g1], 'r1-from-go', ['y']);

    await go.ctl('emit', { rooms: ['r1', 'r2'], except: [g1.socket.id], event: 'r1-r2-not-g1', args: [] });
    await expectAll([n1, g2], 'r1-r2-not-g1', []);

    await go.ctl('emit', { event: 'fence', args: [] });
    await expectAll(all, 'fence', []);
  });

  test('fetchSockets on either side sees the sockets of both', async () => {
    const ids = all.map((c) => c.socket.id).sort();
    const socks = await io.fetchSockets();
    assert.deepEqual(socks.map((s) => s.id).sort(), ids);
    const rg1 = socks.find((s) => s.id === g1.socket.id);
    assert.deepEqual([...rg1.rooms].sort(), [g1.socket.id, 'r1'].sort());
    assert.deepEqual(rg1.data, { node: 'go' });

    const fromGo = await go.ctl('fetch');
    assert.deepEqual(fromGo.map((s) => s.id).sort(), ids);
    const rn1 = fromGo.find((s) => s.id === n1.socket.id);
    assert.deepEqual([...rn1.rooms].sort(), [n1.socket.id, 'r1'].sort());
    assert.deepEqual(rn1.data, { node: 'node' });
  });

  test('socketsJoin, acknowledgements and server-side events cross', async () => {
    io.in('r1').socketsJoin('r5');
    await eventually(async () => (await go.ctl('fetch')).filter((s) => s.rooms.includes('r5')).length === 2, 'r5 joined');
    await go.ctl('emit', { rooms: ['r5'], event: 'r5', args: [] });
    await expectAll([n1, g1], 'r5', []);

    // Each client answers with its name.
    const replies = await io.timeout(WAIT).emitWithAck('ack-q', 7);
    assert.deepEqual(replies.sort(), ['g1', 'g2', 'n1', 'n2']);
    for (const c of all) {
      const e = await c.next();
      assert.equal(e.ev, 'ack-q');
      assert.equal(e.offset, undefined, 'no offset on an event with an acknowledgement');
    }

    io.on('ask-node', (arg, ack) => ack({ from: 'node', arg }));
    const fromGo = await go.ctl('sse', { event: 'ask-node', args: [1], ack: true });
    assert.deepEqual(fromGo, [{ from: 'node', arg: 1 }]);
    const fromNode = await io.serverSideEmitWithAck('ask-go');
    assert.deepEqual(fromNode, [{ from: 'go' }]);
  });

  // expectMissed checks that the client gets values once each, in stream
  // order (Node's emit appends to the stream asynchronously, so two
  // servers' emits may land in either order).
  async function expectMissed(c, values) {
    const got = [];
    let last = '0-0';
    for (let i = 0; i < values.length; i++) {
      const e = await c.expect('news');
      const [ms, seq] = e.offset.split('-').map(BigInt);
      const [lms, lseq] = last.split('-').map(BigInt);
      assert.ok(ms > lms || (ms === lms && seq > lseq), `${c.name}: offset ${e.offset} after ${last}`);
      last = e.offset;
      got.push(e.args[0]);
    }
    assert.deepEqual(got.sort(), values);
    await c.none();
  }

  // cut drops the client's transport without a DISCONNECT packet (the
  // server sees "transport close"), then waits for its session in Redis.
  async function cut(c) {
    const pid = c.socket._pid;
    assert.ok(pid, `${c.name}: has a private session id`);
    const gone = once(c.socket, 'disconnect');
    c.socket.io.engine.close();
    await gone;
    await eventually(async () => (await redis.exists(`${key}:session:${pid}`)) === 1, `${c.name}: session stored`);
  }

  // moveTo reconnects the client through another server, as a load
  // balancer would after the first one went away.
  async function moveTo(c, url) {
    c.socket.io.uri = url;
    const connected = once(c.socket, 'connect');
    c.socket.connect();
    await connected;
  }

  test('a client of Node recovers on Go with the events it missed', async () => {
    const c = await client(nodeURL, 'moving', { rooms: ['rm'], offsets: true });
    const id = c.socket.id;
    await go.ctl('emit', { rooms: ['rm'], event: 'news', args: [0] });
    await c.expect('news', [0]);
    await cut(c);

    io.to('rm').emit('news', 1);
    await go.ctl('emit', { rooms: ['rm'], event: 'news', args: [2] });
    io.to('other').emit('news', 'not for it');
    await go.ctl('emit', { except: ['rm'], event: 'news', args: ['not for it either'] });
    io.except('r2').emit('news', 3);
    io.volatile.emit('news', 'volatile');

    await moveTo(c, go.url);
    assert.equal(c.socket.recovered, true);
    assert.equal(c.socket.id, id);
    await expectMissed(c, [1, 2, 3]);

    const fromGo = await go.ctl('fetch');
    const me = fromGo.find((s) => s.id === id);
    assert.ok(me, 'the recovered socket is on Go');
    assert.deepEqual([...me.rooms].sort(), [id, 'rm'].sort());
    assert.deepEqual(me.data, { node: 'node' }, 'data restored from the Node session');
    io.to('rm').emit('news', 4);
    await c.expect('news', [4]);
    c.socket.disconnect();
  });

  test('a client of Go recovers on Node with the events it missed', async () => {
    const c = await client(go.url, 'moving-back', { rooms: ['rg'], offsets: true });
    const id = c.socket.id;
    io.to('rg').emit('news', 0);
    await c.expect('news', [0]);
    await cut(c);

    await go.ctl('emit', { rooms: ['rg'], event: 'news', args: [1] });
    io.to('rg').emit('news', 2);
    await go.ctl('emit', { rooms: ['elsewhere'], event: 'news', args: ['not for it'] });
    await go.ctl('emit', { rooms: [id], event: 'news', args: [3] });

    await moveTo(c, nodeURL);
    assert.equal(c.socket.recovered, true);
    assert.equal(c.socket.id, id);
    await expectMissed(c, [1, 2, 3]);

    const [me] = await io.in(id).fetchSockets();
    assert.ok(me, 'the recovered socket is on Node');
    assert.deepEqual([...me.rooms].sort(), [id, 'rg'].sort());
    assert.deepEqual(me.data, { node: 'go' }, 'data restored from the Go session');
    c.socket.disconnect();
  });
});
