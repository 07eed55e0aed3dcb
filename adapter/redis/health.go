package redis

import "github.com/go-sio/sio/adapter/internal/cluster"

// redisResult reports the outcome of a Redis command to the node's outage
// tracker (see cluster.RedisResult).
func (n *node) redisResult(err error) {
	cluster.RedisResult(&n.outage, n.log, "adapter/redis", err)
}
