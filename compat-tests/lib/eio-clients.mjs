// A uniform wrapper over the stock Engine.IO clients under test:
// engine.io-client 6.x (protocol revision 4) and 3.x (revision 3, through
// the engine.io-client-v3 alias).

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Socket as SocketV6 } from 'engine.io-client';

const require = createRequire(import.meta.url);
const eioV3 = require('engine.io-client-v3');

export const versions = {
  v6: { label: 'engine.io-client 6.x', revision: 4, package: 'engine.io-client' },
  v3: { label: 'engine.io-client 3.x', revision: 3, package: 'engine.io-client-v3' },
};

// The transport modes every client version is tested with.
export const modes = [
  { name: 'polling', transports: ['polling'], upgrade: false },
  { name: 'websocket', transports: ['websocket'], upgrade: false },
  { name: 'polling with upgrade', transports: ['polling', 'websocket'], upgrade: true },
];

// Modes that only the revision 3 client has: payloads without binary
// support, where binary packets travel base64-encoded ("b4...").
export const v3OnlyModes = [
  { name: 'polling, base64', transports: ['polling'], upgrade: false, opts: { forceBase64: true } },
];

export class TimeoutError extends Error {}

// withTimeout rejects with a TimeoutError when p has not settled after ms.
export function withTimeout(p, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// toBuffer normalises a binary message as received by either client.
export function toBuffer(data) {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`not binary: ${typeof data}`);
}

// Client wraps one client socket. Received messages are queued and taken
// with next(); lifecycle events are recorded in `events`.
export class Client {
  constructor(version, url, mode) {
    this.version = version;
    this.mode = mode;
    const opts = { transports: mode.transports, upgrade: mode.upgrade, ...(mode.opts ?? {}) };
    this.socket = version === 'v6' ? new SocketV6(url, opts) : eioV3(url, opts);
    this.events = [];
    this.queue = [];
    this.waiters = [];
    this.heartbeats = 0;
    this.handshake = new Promise((resolve) => this.socket.once('handshake', resolve));
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', resolve);
      this.socket.once('error', reject);
    });
    this.closed = new Promise((resolve) => {
      this.socket.once('close', (reason, details) => {
        this.events.push(['close', reason]);
        resolve({ reason, description: details?.description ?? details, transport: this.transport });
        for (const w of this.waiters.splice(0)) w.reject(new Error(`closed (${reason}) while waiting for a message`));
      });
    });
    this.upgraded = new Promise((resolve) => this.socket.once('upgrade', (t) => resolve(t.name)));
    this.socket.on('upgrading', (t) => this.events.push(['upgrading', t.name]));
    this.socket.on('upgrade', (t) => this.events.push(['upgrade', t.name]));
    this.socket.on('error', (err) => this.events.push(['error', String(err)]));
    // Revision 4: the server pings and the client emits "ping" as it
    // answers. Revision 3: the client pings and emits "pong" on the answer.
    this.socket.on(version === 'v6' ? 'ping' : 'pong', () => this.heartbeats++);
    this.socket.on('message', (data) => {
      const w = this.waiters.shift();
      if (w) w.resolve(data);
      else this.queue.push(data);
    });
  }

  get id() {
    return this.socket.id;
  }

  get transport() {
    return this.socket.transport?.name;
  }

  send(data) {
    this.socket.send(data);
  }

  // next resolves with the next message received.
  next(ms = 5_000) {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    return new Promise((resolve, reject) => {
      const w = {
        resolve: (data) => {
          clearTimeout(w.timer);
          resolve(data);
        },
        reject: (err) => {
          clearTimeout(w.timer);
          reject(err);
        },
      };
      w.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new TimeoutError(`timed out after ${ms} ms waiting for a message on ${this.version} ${this.mode.name}`));
      }, ms);
      this.waiters.push(w);
    });
  }

  // take resolves with the next n messages.
  async take(n, ms = 10_000) {
    const deadline = Date.now() + ms;
    const out = [];
    while (out.length < n) {
      out.push(await this.next(Math.max(1, deadline - Date.now())));
    }
    return out;
  }

  // request sends a text command and resolves with the text answer.
  async request(cmd, ms = 5_000) {
    this.send(cmd);
    return this.next(ms);
  }

  // stopHeartbeat makes the client stop taking part in heartbeats, as a
  // client that hangs would, while everything else keeps working. It
  // reaches into the pinned clients' internals: revision 4 clients stop
  // answering pings, revision 3 clients stop sending them.
  stopHeartbeat() {
    if (this.version === 'v6') {
      assert.equal(typeof this.socket._sendPacket, 'function');
      const send = this.socket._sendPacket.bind(this.socket);
      this.socket._sendPacket = (type, ...rest) => (type === 'pong' ? undefined : send(type, ...rest));
    } else {
      assert.equal(typeof this.socket.ping, 'function');
      this.socket.ping = () => {};
    }
  }

  close() {
    this.socket.close();
  }
}

// open connects a client and waits for its open event.
export async function open(version, url, mode, ms = 5_000) {
  const c = new Client(version, url, mode);
  try {
    await withTimeout(c.opened, ms, `open on ${version} ${mode.name}`);
  } catch (err) {
    c.close();
    throw err;
  }
  return c;
}

// closeQuietly closes c (if still open) and waits for its close event.
export async function closeQuietly(c, ms = 3_000) {
  if (!c) return;
  c.close();
  await withTimeout(c.closed, ms, 'client close').catch(() => {});
}
