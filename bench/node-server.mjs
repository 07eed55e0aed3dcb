// The Node.js reference server of the benchmark contract (the Go side is
// bench/benchserver): socket.io from node_modules with its default
// options (polling and websocket, no compression), the heartbeat set to
// the same values as the Go server's defaults.
//
//   node --expose-gc bench/node-server.mjs --port 3000
//
// The port also comes from $PORT; 0 (the default) picks a free one. It
// prints "LISTENING <port>" once it accepts connections.
//
// With --redis host:port (or $SIO_BENCH_REDIS) the server uses
// @socket.io/redis-adapter from node_modules on that Redis, under the
// channel prefix --redis-key (default "socket.io"): servers started with
// the same two values form one cluster, and a bcast on one reaches the
// clients of all.
//
//   node --expose-gc bench/node-server.mjs --port 3001 --redis 127.0.0.1:6379 &
//   node --expose-gc bench/node-server.mjs --port 3002 --redis 127.0.0.1:6379 &
import { createServer } from "node:http";
import { Server } from "socket.io";

function stringOption(name, envName, def) {
  const i = process.argv.indexOf(`--${name}`);
  if (i !== -1 && i + 1 < process.argv.length) return process.argv[i + 1];
  if (envName && process.env[envName]) return process.env[envName];
  return def;
}

function option(name, envName, def) {
  return Number(stringOption(name, envName, def));
}

const port = option("port", "PORT", 0);
const pingInterval = option("ping-interval", "PING_INTERVAL_MS", 0) || 25000;
const redisAddr = stringOption("redis", "SIO_BENCH_REDIS", "");
const redisKey = stringOption("redis-key", "", "socket.io");

if (typeof global.gc !== "function") {
  console.error("node-server: start node with --expose-gc");
  process.exit(2);
}

const httpServer = createServer();
const io = new Server(httpServer, { pingInterval, pingTimeout: 20000, serveClient: false });

// The Redis clients, closed on shutdown.
const redisClients = [];
if (redisAddr) {
  // Loaded only when asked for: the single-server scenarios do not need them.
  const { createClient } = await import("redis");
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const pub = createClient({ url: `redis://${redisAddr}` });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) {
    c.on("error", (err) => console.error("node-server: redis:", err.message));
    redisClients.push(c);
  }
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub, { key: redisKey }));
}

io.on("connection", (socket) => {
  socket.on("echo", (arg, ack) => {
    if (typeof ack === "function") ack(arg);
  });
  socket.on("bcast", (arg) => {
    io.emit("bcast", arg);
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack();
  });
  socket.on("bcast-room", (room, arg) => {
    io.to(room).emit("bcast", arg);
  });
  socket.on("gc", (ack) => {
    global.gc();
    if (typeof ack === "function") ack({ heap: process.memoryUsage().heapUsed });
  });
});

function shutdown() {
  io.close();
  for (const c of redisClients) c.disconnect().catch(() => {});
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`LISTENING ${httpServer.address().port}`);
});
