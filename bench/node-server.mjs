// The Node.js reference server of the benchmark contract (the Go side is
// bench/benchserver): socket.io from node_modules with its default
// options (polling and websocket, no compression), the heartbeat set to
// the same values as the Go server's defaults.
//
//   node --expose-gc bench/node-server.mjs --port 3000
//
// The port also comes from $PORT; 0 (the default) picks a free one. It
// prints "LISTENING <port>" once it accepts connections.
import { createServer } from "node:http";
import { Server } from "socket.io";

function option(name, envName, def) {
  const i = process.argv.indexOf(`--${name}`);
  if (i !== -1 && i + 1 < process.argv.length) return Number(process.argv[i + 1]);
  if (process.env[envName]) return Number(process.env[envName]);
  return def;
}

const port = option("port", "PORT", 0);
const pingInterval = option("ping-interval", "PING_INTERVAL_MS", 0) || 25000;

if (typeof global.gc !== "function") {
  console.error("node-server: start node with --expose-gc");
  process.exit(2);
}

const httpServer = createServer();
const io = new Server(httpServer, { pingInterval, pingTimeout: 20000, serveClient: false });

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
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`LISTENING ${httpServer.address().port}`);
});
