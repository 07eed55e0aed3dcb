// Package redis is a Socket.IO cluster adapter on Redis pub/sub, wire
// compatible with Node's @socket.io/redis-adapter 8.x (createAdapter, the
// classic protocol) and @socket.io/redis-emitter 5.x: Go and Node servers
// sharing one Redis and one key prefix form a single cluster, and
// emitters (Node's, or package emitter) reach the sockets of both.
//
//	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
//	io, err := socketio.NewServer(socketio.Config{
//		Adapter: redis.NewAdapter(rdb, redis.Options{}),
//	})
//
// # What travels
//
// Each namespace has an adapter. Rooms stay local (an embedded
// adapter.Memory); what changes is that every operation that is not Local
// is also published for the other nodes:
//
//   - Broadcast: delivered to the local sockets, then published on
//     <key>#<nsp># (or <key>#<nsp>#<room># when it targets exactly one
//     room) as the msgpack array [uid, packet, opts]. Every node receives
//     it through the pattern <key>#<nsp>#* and delivers it to its own
//     sockets.
//   - BroadcastWithAck: a request (type 7) to every node; each answers
//     with the number of sockets reached (type 8) and one message per
//     client acknowledgement (type 9). The acknowledgements of remote
//     clients reach the AckFunc with an empty socket id (the protocol does
//     not carry it).
//   - FetchSockets, ClusterRooms and ServerSideEmitWithAck: a request
//     answered by every other node; the number of nodes is PUBSUB NUMSUB
//     of the request channel.
//   - AddSockets, DelSockets, DisconnectSockets: applied locally and
//     published as a request the other nodes apply.
//   - ServerCount: PUBSUB NUMSUB of the request channel (summed over the
//     nodes of a Redis Cluster).
//
// The exact formats are in package wire.
//
// # Failures
//
// go-redis reconnects on its own, and the subscription is renewed on the
// new connection. While Redis is away, local delivery goes on: Broadcast
// delivers to the local sockets and returns the publishing error; the
// requests that need the other nodes return an error that wraps
// adapter.ErrTimeout (and the Redis error when there is one). A node that
// does not answer in time makes those requests fail with
// adapter.ErrTimeout after Options.RequestsTimeout (or the operation's own
// timeout, or the context's deadline, whichever comes first). Messages
// that cannot be decoded are logged at Warn level and dropped.
//
// # Concurrency
//
// One goroutine per Factory (that is, per server) receives the messages of
// every namespace, in order, and handles them; it sends to local sockets
// without blocking. Responses are published from short-lived goroutines.
// Server-side event handlers run one at a time, in arrival order, on a
// goroutine of their adapter that exists while there is work.
//
// Close unsubscribes the namespace; closing the last adapter of a Factory
// closes its subscription connection, after which the receiving goroutines
// end. Close does not close the Redis client, which belongs to the caller.
package redis
