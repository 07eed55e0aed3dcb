// Browser test of examples/cluster: two nodes of the chat share a Redis;
// one headless Chromium page talks to node A, another to node B, and they
// chat as if on one server. Then node A crashes and comes back.
//
//	node --test browser-tests/cluster.test.mjs
//
// Needs Debian's chromium (see chat.test.mjs) and Redis on 127.0.0.1:6379
// (REDIS_ADDR overrides). Without either, the test is skipped, except
// under CI=true where it fails. The nodes use a Redis key prefix of their
// own, so nothing else on that Redis is touched, and deletes its keys at
// the end.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import { createClient } from 'redis';
import { haveChromium, launchBrowser, requireChromium, screenshot } from './lib/harness.mjs';
import {
  WAIT, chooseNick, count, enter, member, message, notice, openPage, send, startServer, status, typing,
  withoutReconnectErrors,
} from './lib/chat-page.mjs';

// A node that crashes is noticed by the others within a few seconds (they
// poll the number of nodes every 2 s), then the lists are refreshed.
const CRASH_WAIT = 15000;

const redisAddr = process.env.REDIS_ADDR || '127.0.0.1:6379';
const inCI = process.env.CI === 'true';

// redisAnswers sends PING to Redis and waits (bounded) for +PONG.
function redisAnswers() {
  const [host, port] = [redisAddr.slice(0, redisAddr.lastIndexOf(':')), Number(redisAddr.slice(redisAddr.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const sock = createConnection({ host, port });
    const done = (ok) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(3000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

const redisUp = await redisAnswers();
let skip = false;
if (!inCI) {
  if (!haveChromium) skip = 'chromium not found (see chat.test.mjs)';
  else if (!redisUp) skip = `Redis at ${redisAddr} does not answer: start redis-server`;
}

// deleteKeys removes the keys the nodes stored under the test's prefix.
async function deleteKeys() {
  const client = createClient({ url: `redis://${redisAddr}` });
  client.on('error', () => {});
  await client.connect();
  try {
    for await (const k of client.scanIterator({ MATCH: `${key}:*` })) await client.del(k);
  } finally {
    await client.quit();
  }
}

// startNode runs a node of examples/cluster on addr, with a Redis key
// prefix of the test's own.
const key = `chat-browser-test-${randomBytes(4).toString('hex')}`;
const startNode = (addr) => startServer('cluster', addr, ['-redis', redisAddr, '-key', key]);

const transport = (page) => page.evaluate(() => socket.io.engine.transport.name);

test('chat across two nodes sharing Redis', { skip, timeout: 180_000 }, async (t) => {
  requireChromium(assert);
  assert.ok(redisUp, `Redis at ${redisAddr} does not answer (required under CI=true)`);

  let nodeA = await startNode();
  const nodeB = await startNode();
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    nodeA.proc.kill('SIGKILL'); // no-op when it already stopped
    nodeB.proc.kill('SIGKILL');
    await deleteKeys();
  });

  // alice uses the default transports (long-polling, then the upgrade);
  // bob is WebSocket-only, as behind a load balancer without sticky
  // sessions.
  const alice = await openPage(browser, nodeA.url, 'alice');
  const bob = await openPage(browser, `${nodeB.url}?transports=websocket`, 'bob');

  await t.test('each page is served by its own node', async () => {
    assert.notEqual(new URL(nodeA.url).port, new URL(nodeB.url).port);
    assert.equal(await transport(bob), 'websocket');
    await alice.waitForFunction(() => socket.io.engine.transport.name === 'websocket', null, { timeout: WAIT });
  });

  await t.test('nicknames are unique across the nodes', async () => {
    assert.equal(await chooseNick(alice, 'alice'), '');
    assert.match(await chooseNick(bob, 'ALICE'), /taken/);
    assert.equal(await chooseNick(bob, 'bob'), '');
  });

  await t.test('both nodes show both users and the same count', async () => {
    for (const page of [alice, bob]) {
      await member(page, 'alice').waitFor({ timeout: WAIT });
      await member(page, 'bob').waitFor({ timeout: WAIT });
      await count(page, 'lobby', 2);
    }
    await notice(alice, 'bob joined');
  });

  await t.test('messages cross the nodes both ways', async () => {
    await send(alice, 'hello from node A');
    await message(bob, 'hello from node A').waitFor({ timeout: WAIT });
    assert.equal(await message(bob, 'hello from node A').locator('.author').textContent(), 'alice');
    await message(alice, 'hello from node A').waitFor({ timeout: WAIT });
    assert.equal(await message(alice, 'hello from node A').count(), 1);
    await send(bob, 'hello from node B');
    await message(alice, 'hello from node B').waitFor({ timeout: WAIT });
  });

  await t.test('typing indicators cross the nodes', async () => {
    await bob.click('#message-input');
    await bob.keyboard.type('typing on B', { delay: 30 });
    await typing(alice, 'bob is typing…');
    await bob.press('#message-input', 'Enter');
    await message(alice, 'typing on B').waitFor({ timeout: WAIT });
    assert.equal(await alice.textContent('#typing'), '');
  });

  await t.test('rooms, counts and history are shared', async () => {
    await enter(alice, 'dev');
    await notice(bob, 'alice left');
    await member(bob, 'alice').waitFor({ state: 'detached', timeout: WAIT });
    for (const page of [alice, bob]) {
      await count(page, 'lobby', 1);
      await count(page, 'dev', 1);
    }
    await send(alice, 'only for dev');
    await message(alice, 'only for dev').waitFor({ timeout: WAIT });
    await send(bob, 'still in the lobby');
    await message(bob, 'still in the lobby').waitFor({ timeout: WAIT });
    assert.equal(await message(bob, 'only for dev').count(), 0);
    assert.equal(await message(alice, 'still in the lobby').count(), 0);

    // bob's node has never seen dev's messages: the history is in Redis.
    await enter(bob, 'dev');
    await message(bob, 'only for dev').waitFor({ timeout: WAIT });
    for (const page of [alice, bob]) {
      await member(page, 'alice').waitFor({ timeout: WAIT });
      await member(page, 'bob').waitFor({ timeout: WAIT });
      await count(page, 'dev', 2);
    }
    // The lobby is empty now, and listed with 0.
    await count(alice, 'lobby', 0);
  });

  await t.test('screenshots', async () => {
    await screenshot(alice, 'cluster-alice.png');
    await screenshot(bob, 'cluster-bob.png');
  });

  await t.test('no errors in the pages', () => {
    assert.deepEqual([...alice.errors, ...bob.errors], []);
  });

  await t.test('when a node crashes, the other node drops its users', async () => {
    nodeA.proc.kill('SIGKILL');
    await nodeA.exited;
    await status(alice, 'reconnecting');
    await member(bob, 'alice').waitFor({ state: 'detached', timeout: CRASH_WAIT });
    await count(bob, 'dev', 1, CRASH_WAIT);
  });

  await t.test('when it is back, the page reclaims its nickname and room', async () => {
    nodeA = await startNode(new URL(nodeA.url).host);
    await status(alice, 'connected', 15000);
    await notice(alice, 'Reconnected.');
    assert.equal(await alice.textContent('#room-title'), '#dev');
    await member(bob, 'alice').waitFor({ timeout: WAIT });
    await count(bob, 'dev', 2);
    await send(bob, 'welcome back');
    await message(alice, 'welcome back').waitFor({ timeout: WAIT });
    assert.deepEqual(withoutReconnectErrors([...alice.errors, ...bob.errors]), []);
  });

  await t.test('the nodes stop cleanly on SIGTERM', async () => {
    for (const node of [nodeA, nodeB]) {
      node.proc.kill('SIGTERM');
      const { code } = await node.exited;
      assert.equal(code, 0, node.logs());
    }
  });
});
