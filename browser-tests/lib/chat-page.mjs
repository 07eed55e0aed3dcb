// Helpers for the chat page (examples/chat/static), which examples/chat
// and every node of examples/cluster serve: starting a server that prints
// the page's URL, opening the page, and driving and reading it.

import { build, clientDir, run } from './harness.mjs';

export const WAIT = 5000; // ms for anything the pages should show

// startServer builds ./examples/<name> (once per test file) and runs it
// on addr with args; the server prints the URL of the page once it
// listens ("listening on http://...").
const bins = new Map();
export async function startServer(name, addr = '127.0.0.1:0', args = []) {
  if (!bins.has(name)) bins.set(name, build(name));
  return run(bins.get(name), ['-addr', addr, ...args, '-client', clientDir],
    (stdout) => stdout.match(/listening on (http:\/\/\S+)/)?.[1]);
}

// openPage opens the chat in a fresh browser context and collects the
// page's errors (exceptions, console errors such as CSP violations) in
// page.errors.
export async function openPage(browser, url, name) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(`${name}: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') page.errors.push(`${name}: console: ${msg.text()}`);
  });
  await page.goto(url);
  await status(page, 'connected');
  return page;
}

// status waits until the page's connection status is state ("connected",
// "reconnecting", "offline").
export const status = (page, state, timeout = WAIT) => page
  .locator(`#status[data-state="${state}"]`).waitFor({ timeout });

// chooseNick submits the nickname form and returns the error shown, or ''
// once the dialog closed and the page is in a room.
export async function chooseNick(page, nick) {
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

// send sends a chat message from the page.
export async function send(page, text) {
  await page.fill('#message-input', text);
  await page.press('#message-input', 'Enter');
}

// enter goes to a room through the room form and waits until the page
// shows it.
export async function enter(page, room) {
  await page.fill('#room-input', room);
  await page.press('#room-input', 'Enter');
  await page.locator('#room-title', { hasText: `#${room}` }).waitFor({ timeout: WAIT });
}

// message locates the messages shown with this text.
export const message = (page, text) => page.locator('#messages .message', { hasText: text });

// notice waits for a notice with this text (e.g. "bob joined").
export const notice = (page, text) => page.locator('#messages .notice', { hasText: text }).waitFor({ timeout: WAIT });

// count waits until the room list shows n members in room.
export const count = (page, room, n, timeout = WAIT) => page
  .locator(`#rooms button[data-room="${room}"] .count`, { hasText: new RegExp(`^${n}$`) })
  .waitFor({ timeout });

// typing waits for the typing indicator to show text.
export const typing = (page, text) => page.locator('#typing', { hasText: text }).waitFor({ timeout: WAIT });

// member locates nick in the member list.
export const member = (page, nick) => page.locator('#users li', { hasText: new RegExp(`^${nick}$`) });

// Errors a page logs while its server is away: the reconnection attempts.
export const withoutReconnectErrors = (errors) => errors
  .filter((e) => !/ERR_CONNECTION_REFUSED|WebSocket connection/.test(e));
