// Package redisstreams is a Socket.IO cluster adapter on Redis streams,
// wire compatible with Node's @socket.io/redis-streams-adapter 0.3: Go
// and Node servers sharing one Redis, one stream name and one channel
// prefix form a single cluster. It is the adapter that supports
// connection state recovery across servers: a client cut off from one
// server can reconnect to any other and get its id, rooms, data and the
// packets it missed.
//
//	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
//	io, err := socketio.NewServer(socketio.Config{
//		Adapter: redisstreams.NewAdapter(rdb, redisstreams.Options{}),
//	})
//
// # What travels
//
// Each namespace has an adapter. Rooms stay local (an embedded
// adapter.Memory); the operations that are not Local also go to the other
// servers, as the messages of socket.io-adapter's ClusterAdapter (see
// package wire):
//
//   - Broadcast, AddSockets, DelSockets and DisconnectSockets are applied
//     locally and appended to the namespace's stream (XADD MAXLEN ~
//     MaxLen). Every server reads every stream with a blocking XREAD on a
//     connection of its own, from where it was when it started, and
//     applies what other servers appended.
//   - BroadcastWithAck, FetchSockets and server-side events are published
//     on the namespace's public channel <prefix>#<nsp>#; the answers go to
//     the requester's private channel <prefix>#<nsp>#<uid>#. FetchSockets
//     and ServerSideEmitWithAck wait for one answer per other server.
//   - ServerCount is PUBSUB NUMSUB of the public channel (summed over the
//     nodes of a Redis Cluster).
//
// # Connection state recovery
//
// When the server has recovery on (adapter.Recovery), the adapter stores
// sessions and gives out offsets: every broadcast EVENT without
// acknowledgement that is not volatile gets its stream entry id appended
// to its data, on the sending server and on the others alike, and clients
// send back the last id they saw. PersistSession stores the session of a
// disconnected socket (SET <SessionKeyPrefix><pid> ... PX), as a base64
// msgpack value that Node servers read too; RestoreSession takes it once
// and reads the stream after the client's offset for the broadcasts the
// session's rooms select. Unlike Node, volatile broadcasts are not
// replayed, and a server delivers the packets that have an offset in
// stream order, its own among those of the others (Node delivers its own
// at once): a client that resumes after the last offset it got cannot
// have skipped an earlier one that was still on its way. So with recovery
// on, the local delivery of a broadcast waits for the server's stream
// reader to reach its entry (a round trip to Redis; at most
// RequestTimeout, after which it goes ahead out of order). A client can be away as long as MaxDisconnectionDuration and
// as long as its offset is still in the stream (MaxLen).
//
// # Failures
//
// go-redis reconnects on its own. While Redis is away, local delivery goes
// on: Broadcast delivers to the local sockets and returns the Redis error;
// the requests that need the other servers return an error wrapping
// adapter.ErrTimeout (and the Redis error when there is one). The stream
// readers log one warning per outage and resume after the last entry they
// read, so nothing appended meanwhile is lost unless MaxLen trimmed it.
// Entries and messages that cannot be decoded are logged and dropped.
//
// # Concurrency
//
// One goroutine per Factory receives the pub/sub messages of every
// namespace, and one goroutine per stream reads it; both handle messages
// in order and send to local sockets without blocking (with recovery on,
// the reader also waits for the local delivery of this server's
// broadcasts, see above: a handler that emits from an OnAnyOutgoing hook
// of a remote broadcast holds the reader up to RequestTimeout). Responses are
// published from short-lived goroutines. Server-side event handlers run
// one at a time, in arrival order, on a goroutine of their adapter that
// exists while there is work.
//
// Close unsubscribes the namespace; closing the last adapter of a Factory
// closes the subscription and the reading connections and waits for their
// goroutines. Close does not close the Redis client, which belongs to the
// caller.
//
// # Streams
//
// With StreamCount > 1, namespace nsp uses stream <StreamName>-<i> with i
// = hashCode(nsp) % StreamCount (Java's String.hashCode, so i can be
// negative, as in Node). Node servers only read the streams 0 to
// StreamCount-1; Go servers also read the negative ones.
package redisstreams
