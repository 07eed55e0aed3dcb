// The Socket.IO compatibility suite, run once per client version by the
// socketio-*.test.mjs files against compat-tests/sioserver.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';

import { sleep } from './eio-clients.mjs';
import { closeQuietly, modes, SioClient, toBuffer, v2OnlyModes, versions } from './sio-clients.mjs';
import { startRestartable } from './sio-server.mjs';
import { start } from './server.mjs';

// Short heartbeats keep the heartbeat tests quick; the timeout leaves room
// for a loaded machine to answer late.
const PING_INTERVAL = 250;
const PING_TIMEOUT = 750;
const SERVER_FLAGS = ['-ping-interval', `${PING_INTERVAL}ms`, '-ping-timeout', `${PING_TIMEOUT}ms`];
const TEST = { timeout: 15_000 };
const RESTART_TEST = { timeout: 25_000 };

const websocketOnly = modes.find((m) => m.name === 'websocket');

// Names of dynamic namespaces (/dyn-<digits>) unique in this process: the
// transport modes run side by side against one server, and a broadcast to
// a whole namespace must reach only the clients of its own test.
let seq = 0;
const uniqueDigits = () => `${process.pid}${String(++seq).padStart(4, '0')}`;

// norm makes values comparable whatever binary type a client delivers
// (Buffer, ArrayBuffer, typed array), and keeps large ones short in a
// failure report.
function norm(v) {
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    const b = toBuffer(v);
    return { $binary: b.length <= 32 ? b.toString('hex') : `${b.length} bytes, sha1 ${createHash('sha1').update(b).digest('hex')}` };
  }
  if (Array.isArray(v)) return v.map(norm);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]));
  return v;
}

// socketioSuite defines the suite for one client version ('v4', 'v3' or
// 'v2'). The transport modes run side by side, each against the same
// server process; the tests of one mode run one after the other. The tests
// that stop the server start their own.
export function socketioSuite(version) {
  const v = versions[version];
  const refusalEvent = version === 'v2' ? '"error"' : 'connect_error';

  describe(`${v.label} against the Go server (Socket.IO protocol ${v.protocol}, Engine.IO revision ${v.eio})`, { timeout: 120_000, concurrency: true }, () => {
    let server;

    before(async () => {
      server = await start('sioserver', SERVER_FLAGS);
    });

    after(async () => {
      await server?.stop();
    });

    // serverReason asks the server, from a second client, why the socket
    // id disconnected, waiting up to ms for it to have disconnected (""
    // if it is still connected).
    async function serverReason(id, ms = 3_000) {
      const observer = new SioClient(version, server.url, '/', websocketOnly);
      try {
        await observer.connected();
        const deadline = Date.now() + ms;
        for (;;) {
          const [reason] = await observer.ack('server-reason', id);
          if (reason !== '' || Date.now() > deadline) return reason;
          await sleep(20);
        }
      } finally {
        closeQuietly(observer);
      }
    }

    for (const mode of version === 'v2' ? [...modes, ...v2OnlyModes] : modes) {
      describe(`over ${mode.name}`, { concurrency: 1 }, () => {
        const clients = [];
        // client makes a client without waiting for its connection.
        const client = (nsp = '/', opts = {}, url = server.url) => {
          const c = new SioClient(version, url, nsp, mode, opts);
          clients.push(c);
          return c;
        };
        // connect makes a client and waits until it is connected.
        const connect = async (nsp = '/', opts = {}, url = server.url) => {
          const c = client(nsp, opts, url);
          await c.connected();
          return c;
        };
        // multiplex connects a second namespace on the connection of c.
        const multiplex = async (c, nsp, opts = {}) => connect(nsp, { ...opts, manager: c });
        afterEach(() => {
          for (const c of clients.splice(0)) closeQuietly(c);
        });

        it('connects to the main namespace with the socket id the server uses', TEST, async () => {
          const c = client('/');
          const id = await c.connected();
          assert.equal(typeof id, 'string');
          assert.equal(c.id, id);
          // Emitted by the connection handler, so right after the CONNECT.
          assert.deepEqual(await c.event('welcome'), [{ id, nsp: '/' }]);
          const [info] = await c.ack('info');
          assert.equal(info.id, id);
          assert.equal(info.nsp, '/');
          assert.equal(info.protocol, v.protocol);
          assert.equal(info.sid, c.engine.id);
          // 2.x clients compute their id from the session id, as the
          // reference assigns it; later clients get a separate one.
          if (version === 'v2') assert.equal(info.id, info.sid);
          else assert.notEqual(info.id, info.sid, 'the socket id must not reveal the session id');
          assert.deepEqual(info.rooms, [id]);
          if (mode.upgrade) {
            await c.upgraded();
            const [upgradedInfo] = await c.ack('info');
            assert.equal(upgradedInfo.transport, 'websocket');
            assert.equal(upgradedInfo.id, id);
          } else {
            assert.equal(info.transport, mode.transports[0]);
            assert.equal(c.transport, mode.transports[0]);
            if (mode.opts?.forceBase64) assert.equal(c.engine.transport.supportsBinary, false);
          }
        });

        it('connects to a custom namespace, alone and multiplexed with the main one', TEST, async () => {
          const alone = client('/custom');
          const id = await alone.connected();
          assert.deepEqual(await alone.event('welcome'), [{ id, nsp: '/custom' }]);
          const [info] = await alone.ack('info');
          assert.equal(info.nsp, '/custom');
          assert.equal(info.id, id);
          if (version === 'v2') assert.equal(info.id, `/custom#${info.sid}`);
          assert.deepEqual(await alone.ack('echo', 'in /custom'), ['in /custom']);

          const main = await connect('/');
          const custom = await multiplex(main, '/custom');
          const [a] = await main.ack('info');
          const [b] = await custom.ack('info');
          assert.equal(a.nsp, '/');
          assert.equal(b.nsp, '/custom');
          assert.equal(a.sid, b.sid, 'one Engine.IO session for both namespaces');
          assert.notEqual(a.id, b.id);
          assert.deepEqual(await custom.ack('echo', 'custom'), ['custom']);
          assert.deepEqual(await main.ack('echo', 'main'), ['main']);
        });

        it(`passes the auth payload, and reports a middleware refusal with message and data (${refusalEvent})`, TEST, async () => {
          const auth = { token: 'ok', extra: 'é€😀' };
          // 2.x clients have no auth option: the query of the namespace is
          // the auth payload.
          const ok = await connect('/auth', { auth, query: version === 'v2' ? undefined : { q: 'query-value' } });
          const [info] = await ok.ack('info');
          assert.equal(info.nsp, '/auth');
          assert.deepEqual(info.auth, auth);
          if (version !== 'v2') assert.equal(info.query.q, 'query-value');
          assert.equal(info.query.EIO, String(v.eio));

          for (const bad of [{ token: 'wrong' }, undefined]) {
            const c = client('/auth', { auth: bad, reconnection: false });
            const err = await c.refused();
            if (version === 'v2') {
              // err.data || err.message, as the reference sends to 2.x.
              assert.deepEqual(err, { code: 42 });
            } else {
              assert.ok(err instanceof Error, String(err));
              assert.equal(err.message, 'not authorized');
              assert.deepEqual(err.data, { code: 42 });
            }
            assert.equal(c.socket.connected, false);
          }

          // A refused namespace leaves the others of the connection alone.
          const main = await connect('/');
          const refused = client('/auth', { manager: main, auth: { token: 'no' } });
          await refused.refused();
          assert.deepEqual(await main.ack('echo', 'still here'), ['still here']);
          // (A client keeps one socket per namespace and connection, so
          // the accepted one goes on another connection.)
          const other = await connect('/');
          const [mainInfo] = await other.ack('info');
          const accepted = await multiplex(other, '/auth', { auth: { token: 'ok' } });
          const [authInfo] = await accepted.ack('info');
          assert.equal(authInfo.sid, mainInfo.sid);
        });

        it('echoes JSON arguments through acknowledgements, and emits them back', TEST, async () => {
          const c = await connect();
          const values = [
            'hello',
            'é€😀 日本語',
            '',
            'line\nbreak "quoted" \\ \u0000\u001f',
            42,
            -1.5,
            0,
            1e21,
            Number.MAX_SAFE_INTEGER,
            true,
            false,
            null,
            [],
            {},
            { nested: { list: [1, 'two', { three: 3, four: [null, false] }] }, 'key with spaces': 'é' },
            { _placeholder: 'not binary', num: 'x' },
          ];
          assert.deepEqual(await c.ack('echo', ...values), values);
          assert.deepEqual(await c.ack('echo'), []);
          assert.deepEqual(await c.ack('emit-back', ...values), ['ok']);
          assert.deepEqual(await c.event('back'), values);
        });

        it('carries binary arguments both ways, nested in objects and arrays too', TEST, async () => {
          const c = await connect();
          const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
          const big = Buffer.alloc(200_000, 0xa5);
          const values = [
            all,
            new Uint8Array([5, 6, 7]).buffer,
            { file: new Uint8Array([1, 2, 3]).buffer, meta: { name: 'x', parts: [Buffer.from('part-1'), 'text', Buffer.from('part-2')] } },
            'plain',
            [Buffer.from('in an array'), 7],
            big,
          ];
          assert.deepEqual(norm(await c.ack('echo', ...values)), norm(values));
          assert.deepEqual(await c.ack('emit-back', ...values), ['ok']);
          assert.deepEqual(norm(await c.event('back')), norm(values));
          // An empty buffer is an attachment like any other.
          assert.deepEqual(norm(await c.ack('echo', Buffer.alloc(0), { e: Buffer.alloc(0) })), norm([Buffer.alloc(0), { e: Buffer.alloc(0) }]));
          // Outside the main namespace (the packets carry its name).
          const custom = await multiplex(c, '/custom');
          assert.deepEqual(norm(await custom.ack('echo', ...values)), norm(values));
          assert.deepEqual(await custom.ack('emit-back', { deep: [[Buffer.from('x')]] }), ['ok']);
          assert.deepEqual(norm(await custom.event('back')), norm([{ deep: [[Buffer.from('x')]] }]));
        });

        it('delivers a burst of events in order, binary and not', TEST, async () => {
          const c = await connect();
          const n = 100;
          const sent = [];
          for (let i = 0; i < n; i++) {
            const m = i % 10 === 9 ? { i, bin: Buffer.from(`bin-${i}`) } : { i, text: `msg-${i}-é€😀` };
            sent.push(m);
            c.emit('emit-back', m);
          }
          const got = [];
          for (let i = 0; i < n; i++) got.push((await c.event('back'))[0]);
          assert.deepEqual(norm(got), norm(sent));
        });

        it('acknowledges server emits from the client, and times them out on the server', TEST, async () => {
          const c = await connect();
          c.socket.on('question', (...args) => {
            const cb = args.pop();
            assert.equal(typeof cb, 'function', 'the server asked for an acknowledgement');
            if (args[0] === 'silent') return;
            if (args[0] === 'late') {
              setTimeout(() => cb('too late'), 400);
              return;
            }
            if (args[0] === 'empty') {
              cb();
              return;
            }
            cb('answer', ...args, { nested: Buffer.from([9]) });
          });
          const reply = await c.ack('server-ack', 3_000, 'q1', Buffer.from([1, 2]), { n: 1 });
          assert.deepEqual(norm(reply), norm(['reply', 'answer', 'q1', Buffer.from([1, 2]), { n: 1 }, { nested: Buffer.from([9]) }]));

          const t0 = Date.now();
          assert.deepEqual(await c.ack('server-ack', 200, 'silent'), ['timeout']);
          assert.ok(Date.now() - t0 >= 190, `timed out after ${Date.now() - t0} ms`);

          // An acknowledgement that comes after the timeout is ignored.
          assert.deepEqual(await c.ack('server-ack', 200, 'late'), ['timeout']);
          await sleep(300);
          assert.deepEqual(await c.ack('echo', 'alive'), ['alive']);
          assert.deepEqual(norm(await c.ack('server-ack', 3_000, 'q2')), norm(['reply', 'answer', 'q2', { nested: Buffer.from([9]) }]));
          assert.deepEqual(await c.ack('server-ack', 3_000, 'empty'), ['reply']);
        });

        it('emits to rooms except the sender, and to the namespace except a room', TEST, async () => {
          const nsp = `/dyn-${uniqueDigits()}`;
          const [a, b, c] = await Promise.all([connect(nsp), connect(nsp), connect(nsp)]);
          // A client of the other Socket.IO protocol in the same room: a
          // broadcast is encoded for each protocol.
          const otherVersion = version === 'v2' ? 'v4' : 'v2';
          const o = new SioClient(otherVersion, server.url, nsp, websocketOnly);
          clients.push(o);
          await o.connected();
          assert.deepEqual(await a.ack('join', 'room', 'other'), ['ok']);
          assert.deepEqual(await b.ack('join', 'room'), ['ok']);
          assert.deepEqual(await o.ack('join', 'room'), ['ok']);
          const [info] = await a.ack('info');
          assert.deepEqual([...info.rooms].sort(), [a.id, 'other', 'room'].sort());

          assert.deepEqual(await c.ack('to-room', 'room', 'news', 'from c', Buffer.from([1])), ['ok']);
          for (const x of [a, b, o]) assert.deepEqual(norm(await x.event('news')), norm(['from c', Buffer.from([1])]));

          // The sender is left out even when it is in the room.
          assert.deepEqual(await a.ack('to-room', 'room', 'news', 'from a', { bin: Buffer.from([2]) }), ['ok']);
          for (const x of [b, o]) assert.deepEqual(norm(await x.event('news')), norm(['from a', { bin: Buffer.from([2]) }]));

          // Everyone but the room, the sender included when outside it.
          assert.deepEqual(await a.ack('broadcast-except', 'room', 'news', 'not the room'), ['ok']);
          assert.deepEqual(await c.event('news'), ['not the room']);

          assert.deepEqual(await b.ack('leave', 'room'), ['ok']);
          assert.deepEqual(await c.ack('to-room', 'room', 'news', 'after leave'), ['ok']);
          for (const x of [a, o]) assert.deepEqual(await x.event('news'), ['after leave']);

          // A marker to everyone: nobody got anything else before it.
          assert.deepEqual(await c.ack('broadcast-except', 'nobody', 'marker', 'end'), ['ok']);
          for (const x of [a, b, c, o]) {
            assert.deepEqual(await x.event('marker'), ['end']);
            assert.equal(x.has('news'), false, `a socket got an event it was excluded from`);
          }
        });

        it('delivers volatile events to a connected client', TEST, async () => {
          const c = await connect();
          if (mode.upgrade) await c.upgraded();
          // Each emit goes to an idle connection: the previous answer has
          // arrived.
          assert.deepEqual(await c.ack('volatile', 'vol', 'v1', Buffer.from([3])), ['ok']);
          assert.deepEqual(await c.ack('volatile-broadcast', 'vol-broadcast', 'v2', { b: Buffer.from([4]) }), ['ok']);
          if (c.transport === 'websocket') {
            assert.deepEqual(norm(await c.event('vol')), norm(['v1', Buffer.from([3])]));
            assert.deepEqual(norm(await c.event('vol-broadcast')), norm(['v2', { b: Buffer.from([4]) }]));
          }
          // On polling a volatile event may be dropped (as in the
          // reference) when no poll is waiting; the connection goes on.
          assert.deepEqual(await c.ack('echo', 'after'), ['after']);
        });

        it('creates dynamic namespaces that match, and refuses the others', TEST, async () => {
          const name = `/dyn-${uniqueDigits()}`;
          const c = await connect(name);
          const [info] = await c.ack('info');
          assert.equal(info.nsp, name);
          assert.deepEqual(await c.event('welcome'), [{ id: c.id, nsp: name }]);
          assert.deepEqual(norm(await c.ack('echo', 'dyn', Buffer.from([4]))), norm(['dyn', Buffer.from([4])]));
          // A second client in the same child namespace.
          const d = await connect(name);
          assert.deepEqual(await d.ack('broadcast-except', 'nobody', 'news', 'to both'), ['ok']);
          assert.deepEqual(await c.event('news'), ['to both']);
          assert.deepEqual(await d.event('news'), ['to both']);

          const bad = client('/dyn-abc', { reconnection: false });
          const err = await bad.refused();
          if (version === 'v2') assert.deepEqual(err, { message: 'Invalid namespace' });
          else assert.equal(err.message, 'Invalid namespace');
        });

        it('reports "io server disconnect" when the server disconnects the socket', TEST, async () => {
          const main = await connect('/');
          const custom = await multiplex(main, '/custom');
          const id = custom.id;
          custom.emit('disconnect-me');
          assert.equal(await custom.disconnected(), 'io server disconnect');
          assert.equal(await serverReason(id), 'server namespace disconnect');
          // The connection and its other namespaces stay.
          assert.deepEqual(await main.ack('echo', 'still'), ['still']);
          assert.equal(custom.socket.connected, false);
          // The client does not reconnect by itself, but may by hand.
          await sleep(300);
          assert.equal(custom.has('connect'), false, 'reconnected by itself');
          custom.socket.connect();
          const again = await custom.connected();
          // 2.x socket ids are derived from the session id.
          if (version === 'v2') assert.equal(again, id);
          else assert.notEqual(again, id);
          const [a] = await main.ack('info');
          const [b] = await custom.ack('info');
          assert.equal(a.sid, b.sid);
        });

        it('reports "io server disconnect" to every namespace when the server closes the connection', TEST, async () => {
          const main = await connect('/');
          const custom = await multiplex(main, '/custom');
          const ids = [main.id, custom.id];
          main.emit('close-me');
          assert.equal(await main.disconnected(), 'io server disconnect');
          assert.equal(await custom.disconnected(), 'io server disconnect');
          for (const id of ids) assert.equal(await serverReason(id), 'server namespace disconnect');
          await sleep(300);
          assert.equal(main.has('connect') || custom.has('connect'), false, 'reconnected by itself');
        });

        it('reports "io client disconnect", and "client namespace disconnect" on the server', TEST, async () => {
          const main = await connect('/');
          const custom = await multiplex(main, '/custom');
          const customId = custom.id;
          custom.socket.disconnect();
          assert.equal(await custom.disconnected(), 'io client disconnect');
          assert.equal(await serverReason(customId), 'client namespace disconnect');
          assert.deepEqual(await main.ack('echo', 'main stays'), ['main stays']);
          // Disconnect and connect again at once, on the same connection.
          custom.socket.connect();
          await custom.connected();
          const id2 = custom.id;
          assert.deepEqual(await custom.ack('join', 'a-room'), ['ok']);
          custom.socket.disconnect().connect();
          assert.equal(await custom.disconnected(), 'io client disconnect');
          await custom.connected();
          assert.deepEqual(await custom.ack('echo', 'back again'), ['back again']);
          assert.equal(await serverReason(id2), 'client namespace disconnect');
          // The new socket is in its own room only, even when it has the
          // id of the old one (2.x).
          const [info] = await custom.ack('info');
          assert.deepEqual(info.rooms, [custom.id]);

          // The last socket of a connection: the client closes it too.
          const mainId = main.id;
          custom.socket.disconnect();
          main.socket.disconnect();
          assert.equal(await main.disconnected(), 'io client disconnect');
          assert.equal(await serverReason(mainId), 'client namespace disconnect');
        });

        it('reports "ping timeout" when the server stops being heard', TEST, async () => {
          const c = await connect('/', { reconnection: false });
          const id = c.id;
          c.freezeHeartbeat();
          const t0 = Date.now();
          assert.equal(await c.disconnected(), 'ping timeout');
          // At most pingInterval + pingTimeout, with room for a busy machine.
          assert.ok(Date.now() - t0 <= PING_INTERVAL + PING_TIMEOUT + 2_000, `after ${Date.now() - t0} ms`);
          // The client closed the connection.
          assert.equal(await serverReason(id), 'transport close');
        });

        it('closes with "ping timeout" on the server a client that stops heartbeats', TEST, async () => {
          const c = await connect('/', { reconnection: false });
          const id = c.id;
          if (mode.upgrade) await c.upgraded();
          c.stopHeartbeat();
          const reason = await c.disconnected();
          if (c.transport === 'websocket') {
            assert.equal(reason, 'transport close');
          } else {
            // The close packet to a pending poll, or a 400 to the next one.
            assert.ok(['transport close', 'transport error'].includes(reason), reason);
          }
          assert.equal(await serverReason(id), 'ping timeout');
        });

        for (const [signal, what] of [
          ['SIGTERM', 'shuts down'],
          ['SIGKILL', 'is killed'],
        ]) {
          it(`reconnects by itself when the server ${what} and comes back, sending what was emitted meanwhile`, RESTART_TEST, async () => {
            const rs = await startRestartable('sioserver', SERVER_FLAGS);
            try {
              const c = await connect('/', {}, rs.url);
              const custom = await multiplex(c, '/custom');
              if (mode.upgrade) await c.upgraded();
              const firstId = c.id;
              assert.deepEqual(await c.ack('echo', 1), [1]);
              // Let the polling client send its next poll.
              if (c.transport === 'polling') await sleep(50);
              await rs.kill(signal);
              const reason = await c.disconnected();
              assert.equal(await custom.disconnected(), reason);
              if (c.transport === 'websocket') {
                // The server closed the connection (SIGTERM) or the
                // WebSocket saw the TCP connection end (SIGKILL).
                assert.equal(reason, 'transport close');
              } else {
                // SIGTERM: the close packet to the pending poll, or, when
                // the server closes between two polls, the failure of the
                // next one. SIGKILL: the pending poll fails.
                assert.ok(['transport close', 'transport error'].includes(reason), reason);
              }
              // Emitted while disconnected: the client buffers it.
              const pending = c.ackWithin(15_000, 'echo', 'buffered', Buffer.from([7]));
              const pendingCustom = custom.ackWithin(15_000, 'echo', 'buffered custom');
              await sleep(150); // let a reconnection attempt fail
              await rs.restart();
              // (Failed attempts give connect_error events meanwhile.)
              await c.next('reconnect', 10_000);
              const [id] = await c.event('connect', 10_000);
              await custom.event('connect', 10_000);
              assert.notEqual(id, firstId);
              assert.deepEqual(norm(await pending), norm(['buffered', Buffer.from([7])]));
              assert.deepEqual(await pendingCustom, ['buffered custom']);
              assert.deepEqual(await c.ack('echo', 2), [2]);
              const [info] = await c.ack('info');
              assert.equal(info.id, id);
              if (!mode.upgrade) assert.equal(info.transport, mode.transports[0]);
            } finally {
              for (const c of clients.splice(0)) closeQuietly(c);
              await rs.stop();
            }
          });
        }
      });
    }
  });
}
