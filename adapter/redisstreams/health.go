package redisstreams

import (
	"context"
	"errors"

	goredis "github.com/redis/go-redis/v9"
)

// redisResult reports the outcome of a Redis command to the node's outage
// tracker: the first failure of an outage is logged at Warn level, the
// others at Debug level, and the first success after it at Info level.
// Errors that say nothing of Redis (a canceled operation, a client closed
// by the application) are not failures.
func (n *node) redisResult(err error) {
	switch {
	case err == nil:
		n.outage.OK(n.log, "adapter/redisstreams: Redis answers again")
	case errors.Is(err, context.Canceled) || errors.Is(err, goredis.ErrClosed):
	default:
		n.outage.Fail(n.log, "adapter/redisstreams: Redis fails; broadcasts and requests to other nodes are lost until it answers", "err", err)
	}
}
