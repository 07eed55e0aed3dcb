// socket.io-client 4.x against a Go server shutting down gracefully
// (socketio.Server.Shutdown): the client gets what was emitted before the
// shutdown, then sees "transport close" (no DISCONNECT packet: as with the
// reference's io.close(), it tries to reconnect), new connections are
// refused with 503, and the client reconnects once a server is back.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { closeQuietly, modes, SioClient } from './lib/sio-clients.mjs';
import { startRestartable } from './lib/sio-server.mjs';

const N = 200;

describe('socket.io-client 4.x and a graceful server shutdown', { timeout: 90_000, concurrency: true }, () => {
  for (const mode of modes) {
    it(`${mode.name}: the events emitted before, then "transport close", then a reconnection`, { timeout: 25_000 }, async () => {
      const rs = await startRestartable('sioserver');
      const c = new SioClient('v4', rs.url, '/', mode);
      try {
        await c.connected();
        if (mode.upgrade) await c.upgraded();
        c.emit('shutdown-after', N);
        assert.equal(await c.disconnected(10_000), 'transport close');
        // Every event arrived, in order, before the disconnection.
        const news = c.items.filter((it) => it.name === 'news').map((it) => it.args[0]);
        assert.deepEqual(news, Array.from({ length: N }, (_, i) => i));

        const res = await fetch(`${rs.url}/socket.io/?EIO=4&transport=polling`);
        assert.equal(res.status, 503);
        assert.deepEqual(await res.json(), { code: 3, message: 'Server shutting down' });

        await rs.restart();
        await c.event('connect', 10_000); // (failed attempts give connect_error events meanwhile)
      } finally {
        closeQuietly(c);
        await rs.stop();
      }
    });
  }
});
