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
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  build, clientDir, launchBrowser, outDir, requireChromium, run, skip,
} from './lib/harness.mjs';

const WAIT = 5000; // ms for anything the pages should show

// startChat builds examples/chat and runs it on a free port (-addr with
// port 0); the server prints the URL it listens on.
let bin;
async function startChat(addr = '127.0.0.1:0') {
  bin ??= build('chat');
  return run(bin, ['-addr', addr, '-client', clientDir],
    (stdout) => stdout.match(/listening on (http:\/\/\S+)/)?.[1]);
}

// openPage opens the chat in a fresh browser context and collects the
// page's errors (exceptions, console errors such as CSP violations).
async function openPage(browser, url, name) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(`${name}: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') page.errors.push(`${name}: console: ${msg.text()}`);
  });
  await page.goto(url);
  await page.locator('#status[data-state="connected"]').waitFor({ timeout: WAIT });
  return page;
}

// chooseNick submits the nickname form and returns the error shown, or ''
// once the dialog closed and the page is in a room.
async function chooseNick(page, nick) {
  // Set the value directly: the input's maxlength would cut a long one,
  // and the point is to see what the server accepts.
  await page.$eval('#nick-input', (el, v) => { el.value = v; }, nick);
  await page.click('#nick-form button');
  const dialog = page.locator('#nick-dialog');
  const error = page.locator('#nick-error:not(:empty)');
  await Promise.race([dialog.waitFor({ state: 'hidden', timeout: WAIT }), error.waitFor({ timeout: WAIT })]);
  if (await dialog.isVisible()) return page.textContent('#nick-error');
  await page.locator('#message-input:enabled').waitFor({ timeout: WAIT });
  return '';
}

async function send(page, text) {
  await page.fill('#message-input', text);
  await page.press('#message-input', 'Enter');
}

const message = (page, text) => page.locator('#messages .message', { hasText: text });

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
    await bob.locator('#users li', { hasText: 'alice' }).waitFor({ timeout: WAIT });
    await alice.locator('#users li', { hasText: 'bob' }).waitFor({ timeout: WAIT });
    await alice.locator('#messages .notice', { hasText: 'bob joined' }).waitFor({ timeout: WAIT });
    await alice.locator('#rooms button[data-room="lobby"] .count', { hasText: /^2$/ }).waitFor({ timeout: WAIT });
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
    await alice.locator('#typing', { hasText: 'bob is typing…' }).waitFor({ timeout: WAIT });
    mkdirSync(outDir, { recursive: true });
    await alice.screenshot({ path: join(outDir, 'alice-typing.png') });
    assert.equal(await bob.textContent('#typing'), '', 'no indicator for yourself');
    await bob.keyboard.type(' you?', { delay: 30 });
    await bob.press('#message-input', 'Enter');
    await message(alice, 'hi alice, how are you?').waitFor({ timeout: WAIT });
    assert.equal(await alice.textContent('#typing'), '');
  });

  await t.test('messages stay in their room', async () => {
    await alice.fill('#room-input', 'dev');
    await alice.press('#room-input', 'Enter');
    await alice.locator('#room-title', { hasText: '#dev' }).waitFor({ timeout: WAIT });
    assert.equal(await message(alice, 'hello bob').count(), 0, 'the list is cleared on room switch');
    await bob.locator('#messages .notice', { hasText: 'alice left' }).waitFor({ timeout: WAIT });
    await bob.locator('#rooms button[data-room="dev"] .count', { hasText: /^1$/ }).waitFor({ timeout: WAIT });
    await bob.locator('#users li', { hasText: 'alice' }).waitFor({ state: 'detached', timeout: WAIT });

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
    await alice.fill('#room-input', 'dev');
    await alice.press('#room-input', 'Enter');
    await alice.locator('#room-title', { hasText: '#dev' }).waitFor({ timeout: WAIT });
    await send(alice, 'back in dev');
    await message(alice, 'back in dev').waitFor({ timeout: WAIT });
  });

  await t.test('screenshots', async () => {
    mkdirSync(outDir, { recursive: true });
    await alice.screenshot({ path: join(outDir, 'alice.png') });
    await bob.screenshot({ path: join(outDir, 'bob.png') });
  });

  await t.test('no errors in the pages', () => {
    assert.deepEqual([...alice.errors, ...bob.errors], []);
  });

  await t.test('the server stops cleanly on SIGTERM', async () => {
    server.proc.kill('SIGTERM');
    const { code } = await server.exited;
    assert.equal(code, 0, server.logs());
    // The pages notice and start reconnecting.
    await alice.locator('#status[data-state="reconnecting"]').waitFor({ timeout: WAIT });
  });

  await t.test('after a server restart the pages reconnect and rejoin their rooms', async () => {
    server = await startChat(new URL(server.url).host);
    for (const page of [alice, bob]) {
      await page.locator('#status[data-state="connected"]').waitFor({ timeout: 15000 });
    }
    await alice.locator('#messages .notice', { hasText: 'Reconnected.' }).waitFor({ timeout: WAIT });
    await bob.locator('#messages .notice', { hasText: 'Reconnected.' }).waitFor({ timeout: WAIT });
    assert.equal(await alice.textContent('#room-title'), '#dev');
    assert.equal(await bob.textContent('#room-title'), '#lobby');
    await bob.locator('#rooms button[data-room="dev"] .count', { hasText: /^1$/ }).waitFor({ timeout: WAIT });
    await send(alice, 'dev after restart');
    await message(alice, 'dev after restart').waitFor({ timeout: WAIT });
    await send(bob, 'lobby after restart');
    await message(bob, 'lobby after restart').waitFor({ timeout: WAIT });
    assert.equal(await message(bob, 'dev after restart').count(), 0);
    assert.deepEqual([...alice.errors, ...bob.errors].filter((e) => !/ERR_CONNECTION_REFUSED|WebSocket connection/.test(e)), []);
  });
});
