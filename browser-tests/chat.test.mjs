// Browser test of examples/chat: two headless Chromium pages chat through
// the Go server with the stock socket.io client it serves.
//
//	node --test browser-tests/
//
// Needs Debian's chromium at /usr/bin/chromium (or CHROMIUM_PATH). Without
// it the test is skipped, except under CI=true where it fails.
// Screenshots of both pages are written to browser-tests/.out/, the
// example binaries to browser-tests/.bin/. With GOFLAGS=-race the
// examples run under the race detector (a report fails the clean-exit
// check).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, requireChromium, screenshot, skip } from './lib/harness.mjs';
import {
  WAIT, chooseNick, count, enter, member, message, notice, openPage, send, startServer, status, typing,
  withoutReconnectErrors,
} from './lib/chat-page.mjs';

// startChat runs examples/chat on a free port (-addr with port 0) or on
// addr.
const startChat = (addr) => startServer('chat', addr);

test('chat between two browser pages', { skip, timeout: 180_000 }, async (t) => {
  requireChromium(assert);

  let server = await startChat();
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    server.proc.kill('SIGKILL'); // no-op when it already stopped
  });

  const alice = await openPage(browser, server.url, 'alice');
  const bob = await openPage(browser, server.url, 'bob');

  await t.test('the page loads the client bundle from the Go server', async () => {
    assert.equal(await alice.evaluate(() => typeof io), 'function');
    assert.equal(await alice.textContent('#status'), 'connected');
  });

  await t.test('nicknames are validated by the server and unique', async () => {
    assert.equal(await chooseNick(alice, 'alice'), '');
    assert.match(await chooseNick(bob, 'x'.repeat(33)), /longer than 32/);
    assert.match(await chooseNick(bob, '   '), /empty/);
    assert.match(await chooseNick(bob, 'ALICE'), /taken/);
    assert.equal(await chooseNick(bob, 'bob'), '');
    for (const page of [alice, bob]) {
      assert.equal(await page.textContent('#room-title'), '#lobby');
    }
    await member(bob, 'alice').waitFor({ timeout: WAIT });
    await member(alice, 'bob').waitFor({ timeout: WAIT });
    await notice(alice, 'bob joined');
    await count(alice, 'lobby', 2);
  });

  await t.test('a message reaches the other page, marked as mine on the sender', async () => {
    await send(alice, 'hello bob');
    await message(bob, 'hello bob').waitFor({ timeout: WAIT });
    assert.equal(await message(bob, 'hello bob').locator('.author').textContent(), 'alice');
    assert.equal(await message(bob, 'hello bob').getAttribute('class'), 'message');
    await message(alice, 'hello bob').waitFor({ timeout: WAIT });
    assert.equal(await message(alice, 'hello bob').getAttribute('class'), 'message mine');
    assert.equal(await alice.inputValue('#message-input'), '');
  });

  await t.test('a typing indicator shows while typing and clears on send', async () => {
    await bob.click('#message-input');
    await bob.keyboard.type('hi alice, how are', { delay: 30 });
    await typing(alice, 'bob is typing…');
    await screenshot(alice, 'alice-typing.png');
    assert.equal(await bob.textContent('#typing'), '', 'no indicator for yourself');
    await bob.keyboard.type(' you?', { delay: 30 });
    await bob.press('#message-input', 'Enter');
    await message(alice, 'hi alice, how are you?').waitFor({ timeout: WAIT });
    assert.equal(await alice.textContent('#typing'), '');
  });

  await t.test('messages stay in their room', async () => {
    await enter(alice, 'dev');
    assert.equal(await message(alice, 'hello bob').count(), 0, 'the list is cleared on room switch');
    await notice(bob, 'alice left');
    await count(bob, 'dev', 1);
    await member(bob, 'alice').waitFor({ state: 'detached', timeout: WAIT });

    await send(alice, 'only for dev');
    await message(alice, 'only for dev').waitFor({ timeout: WAIT });
    // Once bob sees his own later message, anything the server sent him
    // for dev would already have arrived.
    await send(bob, 'still in the lobby');
    await message(bob, 'still in the lobby').waitFor({ timeout: WAIT });
    assert.equal(await message(bob, 'only for dev').count(), 0);
    assert.equal(await message(alice, 'still in the lobby').count(), 0);

    // Back in the lobby, the history shows what was said there.
    await alice.click('#rooms button[data-room="lobby"]');
    await alice.locator('#room-title', { hasText: '#lobby' }).waitFor({ timeout: WAIT });
    await message(alice, 'still in the lobby').waitFor({ timeout: WAIT });
    await enter(alice, 'dev');
    await send(alice, 'back in dev');
    await message(alice, 'back in dev').waitFor({ timeout: WAIT });
  });

  await t.test('screenshots', async () => {
    await screenshot(alice, 'alice.png');
    await screenshot(bob, 'bob.png');
  });

  await t.test('no errors in the pages', () => {
    assert.deepEqual([...alice.errors, ...bob.errors], []);
  });

  await t.test('the server stops cleanly on SIGTERM', async () => {
    server.proc.kill('SIGTERM');
    const { code } = await server.exited;
    assert.equal(code, 0, server.logs());
    // The pages notice and start reconnecting.
    await status(alice, 'reconnecting');
  });

  await t.test('after a server restart the pages reconnect and rejoin their rooms', async () => {
    server = await startChat(new URL(server.url).host);
    for (const page of [alice, bob]) {
      await status(page, 'connected', 15000);
    }
    await notice(alice, 'Reconnected.');
    await notice(bob, 'Reconnected.');
    assert.equal(await alice.textContent('#room-title'), '#dev');
    assert.equal(await bob.textContent('#room-title'), '#lobby');
    await count(bob, 'dev', 1);
    await send(alice, 'dev after restart');
    await message(alice, 'dev after restart').waitFor({ timeout: WAIT });
    await send(bob, 'lobby after restart');
    await message(bob, 'lobby after restart').waitFor({ timeout: WAIT });
    assert.equal(await message(bob, 'dev after restart').count(), 0);
    assert.deepEqual(withoutReconnectErrors([...alice.errors, ...bob.errors]), []);
  });
});
