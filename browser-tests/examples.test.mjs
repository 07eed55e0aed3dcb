// Browser test of examples/nethttp and examples/chi: the stock socket.io
// client runs in a headless Chromium page on the example's origin (the
// examples serve no page: the test loads the client bundle into a page at
// /healthz) and talks to the Go server mounted in net/http and in chi.
//
//	node --test browser-tests/

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  build, clientDir, freePort, launchBrowser, requireChromium, run, skip,
} from './lib/harness.mjs';

// startExample builds and runs examples/<name> on a free port and waits
// until its /healthz answers.
async function startExample(t, name) {
  const bin = build(name);
  const port = await freePort();
  const server = await run(bin, ['-addr', `127.0.0.1:${port}`],
    (_, logs) => (logs.includes('listening on') ? `http://127.0.0.1:${port}` : undefined));
  t.after(() => server.proc.kill('SIGKILL'));
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`${server.url}/healthz`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'ok\n');
      break;
    } catch (err) {
      if (i === 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return server;
}

// openClientPage opens a page on the server's origin with the socket.io
// client loaded, and helpers in window.t: connect() returns a socket once
// it upgraded to WebSocket, next(socket, event) the next arguments of an
// event.
async function openClientPage(browser, url) {
  const page = await browser.newPage();
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(err.message));
  await page.goto(`${url}/healthz`);
  await page.addScriptTag({ path: join(clientDir, 'socket.io.min.js') });
  await page.evaluate(() => {
    window.t = {
      connect: () => new Promise((resolve, reject) => {
        const socket = io({ forceNew: true, reconnection: false });
        const timer = setTimeout(() => reject(new Error('no WebSocket upgrade in 5 s')), 5000);
        socket.on('connect_error', reject);
        socket.io.engine.on('upgrade', () => { clearTimeout(timer); resolve(socket); });
      }),
      next: (socket, event, ms = 3000) => new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${event} in ${ms} ms`)), ms);
        socket.once(event, (...args) => { clearTimeout(timer); resolve(args); });
      }),
    };
  });
  return page;
}

test('examples/nethttp: echo and broadcast', { skip, timeout: 120_000 }, async (t) => {
  requireChromium(assert);
  const server = await startExample(t, 'nethttp');
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await openClientPage(browser, server.url);

  const result = await page.evaluate(async () => {
    const [a, b] = [await t.connect(), await t.connect()];
    const ack = await a.timeout(3000).emitWithAck('echo', { hello: 'world', n: [1, 2] });
    const event = t.next(a, 'echo');
    a.emit('echo', 'as an event');
    const echoed = await event;
    // The sender does not get its own broadcast; the other socket does.
    let selfGot = false;
    a.on('broadcast', () => { selfGot = true; });
    const received = t.next(b, 'broadcast');
    a.emit('broadcast', 'hi everyone');
    const broadcast = await received;
    await a.timeout(3000).emitWithAck('echo', 'barrier'); // a's broadcast would be here by now
    const transport = a.io.engine.transport.name;
    a.close();
    b.close();
    return { ack, echoed, broadcast, selfGot, transport };
  });
  assert.deepEqual(result, {
    ack: { hello: 'world', n: [1, 2] },
    echoed: ['as an event'],
    broadcast: ['hi everyone'],
    selfGot: false,
    transport: 'websocket',
  });
  assert.deepEqual(page.errors, []);
});

test('examples/chi: a REST call emits to a room', { skip, timeout: 120_000 }, async (t) => {
  requireChromium(assert);
  const server = await startExample(t, 'chi');
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await openClientPage(browser, server.url);

  const joins = await page.evaluate(async () => {
    const [news, sports] = [await t.connect(), await t.connect()];
    window.news = news;
    window.sports = sports;
    window.got = { news: [], sports: [] };
    news.on('announcement', (a) => got.news.push(a));
    sports.on('announcement', (a) => got.sports.push(a));
    return [
      await news.timeout(3000).emitWithAck('join', { room: 'news' }),
      await sports.timeout(3000).emitWithAck('join', { room: 'sports' }),
      await sports.timeout(3000).emitWithAck('join', { room: 'Not A Room!' }),
      news.io.engine.transport.name,
    ];
  });
  assert.deepEqual(joins, [{ room: 'news' }, { room: 'sports' }, { error: 'room names are 1 to 32 of a-z 0-9 _ -' }, 'websocket']);

  const res = await fetch(`${server.url}/rooms/news/announce`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ text: 'breaking' }),
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { room: 'news', recipients: 1 });

  const bad = await fetch(`${server.url}/rooms/news/announce`, { method: 'POST', body: '{}' });
  assert.equal(bad.status, 400);

  // The announcement reaches the news socket only.
  await page.waitForFunction(() => got.news.length === 1, null, { timeout: 3000 });
  const got = await page.evaluate(async () => {
    await sports.timeout(3000).emitWithAck('join', { room: 'sports' }); // barrier
    return got;
  });
  assert.equal(got.news[0].room, 'news');
  assert.equal(got.news[0].text, 'breaking');
  assert.equal(typeof got.news[0].time, 'number');
  assert.deepEqual(got.sports, []);

  // chi's middleware.Logger (which writes to stdout) logged the REST call
  // and the Socket.IO requests.
  assert.match(server.stdout(), /"POST http:\/\/127\.0\.0\.1:\d+\/rooms\/news\/announce HTTP\/1\.1" from .* - 200/);
  assert.match(server.stdout(), /"GET http:\/\/127\.0\.0\.1:\d+\/socket\.io\/\?EIO=4&transport=websocket/);
  assert.deepEqual(page.errors, []);
});
