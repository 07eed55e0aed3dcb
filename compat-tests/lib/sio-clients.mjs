// A uniform wrapper over the stock Socket.IO clients under test:
// socket.io-client 4.x and 3.x (Engine.IO revision 4, Socket.IO protocol
// 5) and 2.x (revision 3, protocol 4, through the socket.io-client-v2
// alias). The 2.x client has no auth option (the query is its auth), reports
// namespace refusals with an "error" event rather than "connect_error", and
// pings the server itself.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { io as ioV4 } from 'socket.io-client';

import { TimeoutError, toBuffer, withTimeout } from './eio-clients.mjs';

const require = createRequire(import.meta.url);
const ioV3 = require('socket.io-client-v3');
const ioV2 = require('socket.io-client-v2');

export { TimeoutError, toBuffer, withTimeout };

export const versions = {
  v4: { label: 'socket.io-client 4.x', eio: 4, protocol: 5 },
  v3: { label: 'socket.io-client 3.x', eio: 4, protocol: 5 },
  v2: { label: 'socket.io-client 2.x', eio: 3, protocol: 4 },
};

// The transport modes every client version is tested with.
export const modes = [
  { name: 'polling', transports: ['polling'], upgrade: false },
  { name: 'websocket', transports: ['websocket'], upgrade: false },
  { name: 'polling with upgrade', transports: ['polling', 'websocket'], upgrade: true },
];

// Modes that only the 2.x client has: polling without binary support,
// where attachments travel base64-encoded ("b4...").
export const v2OnlyModes = [{ name: 'polling, base64', transports: ['polling'], upgrade: false, opts: { forceBase64: true } }];

// Events the server emits that a client queues from the start, so that
// none is missed between an emit and the test waiting for it.
const serverEvents = ['welcome', 'back', 'news', 'marker', 'vol', 'vol-broadcast'];

// Reconnection is quick in the tests (the defaults wait 1 s and more).
const reconnectOpts = { reconnectionDelay: 100, reconnectionDelayMax: 300, randomizationFactor: 0 };

// SioClient wraps one client socket (one namespace). Server events and
// lifecycle events ("connect" with the socket id, "disconnect" with the
// reason, "connect_error" with the error, "error" for 2.x, and the
// manager's "reconnect") are queued in arrival order and taken with next().
export class SioClient {
  // opts: auth (query for 2.x), query, manager (a SioClient whose
  // connection to share: the new socket is multiplexed on it), reconnection.
  constructor(version, url, nsp, mode, opts = {}) {
    this.version = version;
    this.mode = mode;
    this.nsp = nsp;
    this.items = [];
    this.waiters = [];
    const common = {
      transports: mode.transports,
      upgrade: mode.upgrade,
      forceNew: true,
      reconnection: opts.reconnection ?? true,
      timeout: 5_000,
      ...reconnectOpts,
      ...mode.opts,
    };
    if (opts.manager) {
      const m = opts.manager.socket.io;
      this.socket = version === 'v2' ? m.socket(nsp, { query: opts.auth ?? opts.query }) : m.socket(nsp, { auth: opts.auth });
    } else if (version === 'v2') {
      this.socket = ioV2(url + nsp, { ...common, query: { ...opts.query, ...opts.auth } });
    } else {
      const io = version === 'v4' ? ioV4 : ioV3;
      this.socket = io(url + nsp, { ...common, query: opts.query, auth: opts.auth });
    }
    const s = this.socket;
    s.on('connect', () => this.push('connect', [s.id]));
    s.on('disconnect', (reason) => this.push('disconnect', [reason]));
    s.on('connect_error', (err) => this.push('connect_error', [err]));
    if (version === 'v2') s.on('error', (data) => this.push('error', [data]));
    // The manager's event (2.x sockets also emit it, the manager is the
    // same for every version).
    s.io.on('reconnect', (n) => this.push('reconnect', [n]));
    for (const ev of serverEvents) s.on(ev, (...args) => this.push(ev, args));
  }

  get id() {
    return this.socket.id;
  }

  get engine() {
    return this.socket.io.engine;
  }

  get transport() {
    return this.engine?.transport?.name;
  }

  push(name, args) {
    const i = this.waiters.findIndex((w) => w.names.includes(name));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      w.resolve({ name, args });
    } else {
      this.items.push({ name, args });
    }
  }

  // next resolves with the first queued item among names ({name, args}).
  next(names, ms = 5_000) {
    names = [names].flat();
    const i = this.items.findIndex((it) => names.includes(it.name));
    if (i >= 0) return Promise.resolve(this.items.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const w = { names };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new TimeoutError(`timed out after ${ms} ms waiting for ${names.join(' or ')} on ${this.version} ${this.mode.name} ${this.nsp}`));
      }, ms);
      w.resolve = (v) => {
        clearTimeout(timer);
        resolve(v);
      };
      this.waiters.push(w);
    });
  }

  // event resolves with the arguments of the next event name.
  async event(name, ms = 5_000) {
    return (await this.next(name, ms)).args;
  }

  // has reports whether an item is queued (without taking it).
  has(name) {
    return this.items.some((it) => it.name === name);
  }

  // connected resolves once the socket is connected, and rejects on a
  // refusal.
  async connected(ms = 5_000) {
    const it = await this.next(['connect', 'connect_error', 'error'], ms);
    if (it.name !== 'connect') {
      const e = it.args[0];
      throw new Error(`${it.name}: ${e instanceof Error ? e.message : JSON.stringify(e)}`);
    }
    return it.args[0];
  }

  // refused resolves with what the client reports when the namespace
  // refuses it: the connect_error error (4.x, 3.x) or the "error" payload
  // (2.x).
  async refused(ms = 5_000) {
    const it = await this.next(['connect', this.version === 'v2' ? 'error' : 'connect_error'], ms);
    assert.notEqual(it.name, 'connect', 'the client connected');
    return it.args[0];
  }

  // disconnected resolves with the reason of the next disconnection.
  async disconnected(ms = 5_000) {
    return (await this.event('disconnect', ms))[0];
  }

  emit(event, ...args) {
    this.socket.emit(event, ...args);
  }

  // ack emits an event and resolves with the arguments of its
  // acknowledgement.
  ack(event, ...args) {
    return this.ackWithin(5_000, event, ...args);
  }

  ackWithin(ms, event, ...args) {
    const p = new Promise((resolve) => this.socket.emit(event, ...args, (...res) => resolve(res)));
    return withTimeout(p, ms, `the acknowledgement of ${event} on ${this.version} ${this.mode.name} ${this.nsp}`);
  }

  // upgraded resolves once the connection runs on WebSocket.
  async upgraded(ms = 5_000) {
    if (this.transport === 'websocket') return;
    const engine = this.engine;
    await withTimeout(new Promise((resolve) => engine.once('upgrade', resolve)), ms, 'the upgrade');
  }

  // freezeHeartbeat makes the client stop tracking the server's liveness
  // while it keeps taking part in heartbeats as the server sees them: its
  // own ping timeout fires at most pingInterval + pingTimeout later, so it
  // is the client that closes, with "ping timeout". Revision 4 clients
  // stop re-arming their timer on each ping (and still answer it);
  // revision 3 clients stop re-arming it on incoming packets and after
  // their pings (which still go out and get their pongs).
  freezeHeartbeat() {
    const e = this.engine;
    if (this.version === 'v4') {
      assert.equal(typeof e._resetPingTimeout, 'function');
      e._resetPingTimeout = () => {};
    } else if (this.version === 'v3') {
      assert.equal(typeof e.resetPingTimeout, 'function');
      e.resetPingTimeout = () => {};
    } else {
      assert.equal(typeof e.onHeartbeat, 'function');
      e.removeAllListeners('heartbeat');
      e.onHeartbeat = () => {};
    }
  }

  // stopHeartbeat makes the client stop taking part in heartbeats, as a
  // client that hangs would, while still believing the server alive:
  // revision 4 clients stop answering pings (and re-arming their timer),
  // revision 3 clients stop sending pings (and the timer that waits for
  // the pongs). The server closes the connection with "ping timeout".
  stopHeartbeat() {
    const e = this.engine;
    if (this.version === 'v2') {
      assert.equal(typeof e.ping, 'function');
      e.ping = () => {};
      e.removeAllListeners('heartbeat');
      e.onHeartbeat = () => {};
      clearTimeout(e.pingTimeoutTimer);
      return;
    }
    const sendName = this.version === 'v4' ? '_sendPacket' : 'sendPacket';
    const resetName = this.version === 'v4' ? '_resetPingTimeout' : 'resetPingTimeout';
    assert.equal(typeof e[sendName], 'function');
    const send = e[sendName].bind(e);
    e[sendName] = (type, ...rest) => (type === 'pong' ? undefined : send(type, ...rest));
    e[resetName] = () => {};
    clearTimeout(e[this.version === 'v4' ? '_pingTimeoutTimer' : 'pingTimeoutTimer']);
  }

  close() {
    this.socket.close();
  }

  // closeConnection closes the whole connection (every socket sharing it).
  closeConnection() {
    this.socket.io.reconnection(false);
    if (typeof this.socket.io._close === 'function') this.socket.io._close();
    else this.socket.io.close?.();
    this.socket.close();
  }
}

// closeQuietly closes c and its connection, without waiting.
export function closeQuietly(c) {
  if (!c) return;
  try {
    c.closeConnection();
  } catch {
    // already closed
  }
}
