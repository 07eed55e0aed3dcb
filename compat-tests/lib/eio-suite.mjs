// The Engine.IO compatibility suite, run once per client version by the
// engineio-*.test.mjs files against compat-tests/eioserver.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';

import { Client, closeQuietly, modes, open, sleep, toBuffer, v3OnlyModes, versions, withTimeout } from './eio-clients.mjs';
import { start } from './server.mjs';

// Short heartbeats keep the heartbeat tests quick; the timeout leaves room
// for a loaded machine to answer late.
const PING_INTERVAL = 250;
const PING_TIMEOUT = 750;
const TEST = { timeout: 15_000 };

const websocketOnly = modes.find((m) => m.name === 'websocket');

// engineSuite defines the suite for one client version ('v6' or 'v3'). The
// transport modes run side by side, each against the same server process;
// the tests of one mode run one after the other.
export function engineSuite(version) {
  const v = versions[version];
  describe(`${v.label} against the Go server (Engine.IO revision ${v.revision})`, { timeout: 180_000, concurrency: true }, () => {
    let server;

    before(async () => {
      server = await start('eioserver', ['-ping-interval', `${PING_INTERVAL}ms`, '-ping-timeout', `${PING_TIMEOUT}ms`]);
    });

    after(async () => {
      await server?.stop();
    });

    // serverCloseReason asks the server, from a second client, why the
    // session sid closed, waiting up to ms for it to have closed ("" if it
    // is still open).
    async function serverCloseReason(sid, ms = 3_000) {
      const observer = await open(version, server.url, websocketOnly);
      try {
        const deadline = Date.now() + ms;
        for (;;) {
          const answer = await observer.request(`close-reason ${sid}`);
          assert.match(answer, /^reason:/);
          const reason = answer.slice('reason:'.length);
          if (reason !== '' || Date.now() > deadline) return reason;
          await sleep(20);
        }
      } finally {
        await closeQuietly(observer);
      }
    }

    for (const mode of version === 'v3' ? [...modes, ...v3OnlyModes] : modes) {
      describe(`over ${mode.name}`, { concurrency: 1 }, () => {
        const clients = [];
        const connect = async () => {
          const c = await open(version, server.url, mode);
          clients.push(c);
          return c;
        };
        afterEach(async () => {
          await Promise.all(clients.splice(0).map((c) => closeQuietly(c)));
        });

        it('sends the open packet with the configured fields', TEST, async () => {
          const c = new Client(version, server.url, mode);
          clients.push(c);
          const hs = await withTimeout(c.handshake, 5_000, 'the open packet');
          await withTimeout(c.opened, 5_000, 'open');
          assert.deepEqual(Object.keys(hs).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
          assert.equal(typeof hs.sid, 'string');
          assert.ok(hs.sid.length > 0);
          assert.equal(c.id, hs.sid);
          // A WebSocket handshake has nothing to upgrade to.
          assert.deepEqual(hs.upgrades, mode.transports[0] === 'websocket' ? [] : ['websocket']);
          assert.equal(hs.pingInterval, PING_INTERVAL);
          assert.equal(hs.pingTimeout, PING_TIMEOUT);
          assert.equal(hs.maxPayload, 1e6);
          assert.equal(await c.request('protocol'), `protocol:${v.revision}`);
          if (!mode.upgrade) {
            assert.equal(c.transport, mode.transports[0]);
            assert.equal(await c.request('transport'), `transport:${mode.transports[0]}`);
          }
        });

        it('echoes text messages, ASCII and not', TEST, async () => {
          const c = await connect();
          const texts = [
            'hello',
            'é€😀', // 2, 3 and 4 UTF-8 bytes; 1, 1 and 2 UTF-16 units
            '',
            '12:4not a frame', // looks like revision 3 payload framing
            'line\nbreak\u0000nul\u001f', // not \u001e: it separates revision 4 polling packets
            '{"json":["array",1]}',
            'b4AAEC', // looks like a revision 3 base64 binary packet
            '日本語のテキスト',
            'é€😀'.repeat(5_000), // large enough for HTTP compression
          ];
          for (const t of texts) c.send(t);
          // The stock clients decode an empty message packet ("4") as
          // undefined data, whatever the server.
          const got = (await c.take(texts.length)).map((m) => m ?? '');
          assertSameMessages(got, texts);
        });

        it('echoes binary messages and sends binary', TEST, async () => {
          const c = await connect();
          const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
          const big = Buffer.alloc(100_000, 0xa5);
          c.send(all); // Buffer
          c.send(new Uint8Array([1, 2, 3, 250, 251]).buffer); // ArrayBuffer
          c.send(new Uint8Array([9, 8, 7])); // typed array
          c.send('between binary messages');
          c.send(big);
          c.send('ask-binary');
          const [a, b, t, u, w, x] = await c.take(6);
          assert.deepEqual(toBuffer(a), all);
          assert.deepEqual(toBuffer(b), Buffer.from([1, 2, 3, 250, 251]));
          assert.deepEqual(toBuffer(t), Buffer.from([9, 8, 7]));
          assert.equal(u, 'between binary messages');
          assert.deepEqual(toBuffer(w), big);
          assert.deepEqual(toBuffer(x), Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
        });

        it('delivers a burst of 200 messages in order, both ways', TEST, async () => {
          const c = await connect();
          const n = 200;
          const sent = [];
          for (let i = 0; i < n; i++) {
            const m = i % 10 === 9 ? Buffer.from(`bin-${i}`) : `msg-${i}-é€😀`;
            sent.push(m);
            c.send(m);
          }
          const got = await c.take(n);
          assertSameMessages(got, sent);
        });

        it('stays open past pingInterval + pingTimeout thanks to ping/pong', TEST, async () => {
          const c = await connect();
          const wait = 2 * (PING_INTERVAL + PING_TIMEOUT);
          await sleep(wait);
          assert.deepEqual(c.events.filter(([e]) => e === 'close'), []);
          assert.ok(c.heartbeats >= 3, `only ${c.heartbeats} heartbeats in ${wait} ms`);
          assert.equal(await c.request('still there?'), 'still there?');
          assert.equal(await serverCloseReason(c.id, 0), '', 'the server closed the session');
        });

        it('reports a server-side close to the client as "transport close"', TEST, async () => {
          const c = await connect();
          const sid = c.id;
          c.send('sent before close-me');
          c.send('close-me');
          // What the server queued before closing is delivered first.
          assert.equal(await c.next(), 'sent before close-me');
          const closed = await withTimeout(c.closed, 5_000, 'the client close event');
          assert.equal(closed.reason, 'transport close');
          assert.equal(await serverCloseReason(sid), 'forced close');
        });

        it('reports a client-side close to the server as "transport close"', TEST, async () => {
          const c = await connect();
          const sid = c.id;
          assert.equal(await c.request('ping-pong'), 'ping-pong');
          c.close();
          const closed = await withTimeout(c.closed, 5_000, 'the client close event');
          assert.equal(closed.reason, 'forced close');
          assert.equal(await serverCloseReason(sid), 'transport close');
        });

        it('closes a session whose client stops heartbeats with "ping timeout"', TEST, async () => {
          const c = await connect();
          const sid = c.id;
          c.stopHeartbeat();
          // Messages do not count as heartbeats for the server; their
          // echoes keep the revision 3 client's own timeout from firing.
          const busy = setInterval(() => c.send('busy'), 50);
          try {
            const closed = await withTimeout(c.closed, 5_000, 'the client close event');
            if (closed.transport === 'websocket') {
              assert.equal(closed.reason, 'transport close');
            } else {
              // On polling the client learns of the close from the close
              // packet if a poll is pending, or else from a 400 "Session ID
              // unknown" answer (the reference behaves the same).
              assert.ok(['transport close', 'transport error'].includes(closed.reason), closed.reason);
            }
          } finally {
            clearInterval(busy);
          }
          assert.equal(await serverCloseReason(sid), 'ping timeout');
        });

        it('ends the session on a message larger than maxPayload', TEST, async () => {
          const c = await connect();
          const sid = c.id;
          c.send('x'.repeat(1e6 + 1));
          const closed = await withTimeout(c.closed, 5_000, 'the client close event');
          // WebSocket: close 1009. Polling: 413 to the POST, and the close
          // packet to the pending poll; whichever the client sees first.
          assert.ok(['transport close', 'transport error'].includes(closed.reason), closed.reason);
          assert.equal(await serverCloseReason(sid), 'transport error');
        });

        if (mode.upgrade) {
          it('upgrades to WebSocket and fires the upgrade event', TEST, async () => {
            const c = await connect();
            assert.equal(c.transport, 'polling');
            assert.equal(await withTimeout(c.upgraded, 5_000, 'the upgrade event'), 'websocket');
            assert.equal(c.transport, 'websocket');
            assert.deepEqual(
              c.events.filter(([e]) => e === 'upgrading' || e === 'upgrade'),
              [
                ['upgrading', 'websocket'],
                ['upgrade', 'websocket'],
              ],
            );
            assert.equal(await c.request('transport'), 'transport:websocket');
          });

          it('keeps messages in order while they cross the upgrade', TEST, async () => {
            const c = new Client(version, server.url, mode);
            clients.push(c);
            const sent = [];
            const send = () => {
              const i = sent.length;
              const m = i % 10 === 9 ? Buffer.from(`bin-${i}`) : `msg-${i}-é€😀`;
              sent.push(m);
              c.send(m);
            };
            const phases = { atUpgrading: -1, atUpgrade: -1 };
            c.socket.once('upgrading', () => {
              phases.atUpgrading = sent.length;
              for (let i = 0; i < 20; i++) send(); // while the transport is paused
            });
            c.socket.once('upgrade', () => {
              phases.atUpgrade = sent.length;
              for (let i = 0; i < 20; i++) send(); // on the new transport
            });
            await withTimeout(c.opened, 5_000, 'open');
            for (let i = 0; i < 20; i++) send(); // on polling
            // Keep sending a few messages at a time until after the upgrade.
            let extra = 0;
            while (extra < 5) {
              for (let i = 0; i < 3; i++) send();
              await sleep(2);
              if (phases.atUpgrade >= 0) extra++;
              assert.ok(sent.length < 5_000, 'no upgrade happened');
            }
            const got = await c.take(sent.length, 12_000);
            assertSameMessages(got, sent);
            assert.ok(phases.atUpgrading > 0 && phases.atUpgrade >= phases.atUpgrading, JSON.stringify(phases));
            assert.equal(c.transport, 'websocket');
          });
        }
      });
    }
  });
}

// show makes messages comparable whatever binary type a client delivers,
// and short enough to read in a failure report.
function show(m) {
  if (m === undefined) return 'undefined';
  const s = typeof m === 'string' ? JSON.stringify(m) : `<binary ${toBuffer(m).toString('hex')}>`;
  return s.length > 80 ? `${s.slice(0, 60)}... (${s.length} chars)` : s;
}

// assertSameMessages compares received messages with the expected ones in
// order, reporting the first difference briefly.
function assertSameMessages(got, want) {
  const same = (a, b) => (typeof b === 'string' ? a === b : typeof a !== 'string' && toBuffer(a).equals(toBuffer(b)));
  for (let i = 0; i < Math.min(got.length, want.length); i++) {
    if (!same(got[i], want[i])) assert.fail(`message ${i}: got ${show(got[i])}, want ${show(want[i])}`);
  }
  assert.equal(got.length, want.length, 'number of messages');
}
