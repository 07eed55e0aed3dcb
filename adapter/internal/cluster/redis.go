package cluster

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/go-sio/sio/internal/warn"
)

// ServerCount is the number of subscribers of channel (PUBSUB NUMSUB,
// summed over the nodes of a Redis Cluster), at least 1.
func ServerCount(ctx context.Context, client goredis.UniversalClient, channel string) (int, error) {
	var total int64
	switch c := client.(type) {
	case *goredis.ClusterClient:
		var mu sync.Mutex
		err := c.ForEachShard(ctx, func(ctx context.Context, shard *goredis.Client) error {
			m, err := shard.PubSubNumSub(ctx, channel).Result()
			mu.Lock()
			total += m[channel]
			mu.Unlock()
			return err
		})
		if err != nil {
			return 0, err
		}
	default:
		m, err := c.PubSubNumSub(ctx, channel).Result()
		if err != nil {
			return 0, err
		}
		total = m[channel]
	}
	return max(int(total), 1), nil
}

// RedisResult reports the outcome of a Redis command to outage: the first
// failure of an outage is logged at Warn level, the others at Debug
// level, and the first success after it at Info level. Errors that say
// nothing of Redis (a canceled operation, a client closed by the
// application) are not failures. prefix starts the messages.
func RedisResult(outage *warn.Outage, log *slog.Logger, prefix string, err error) {
	switch {
	case err == nil:
		outage.OK(log, prefix+": Redis answers again")
	case errors.Is(err, context.Canceled) || errors.Is(err, goredis.ErrClosed):
	default:
		outage.Fail(log, prefix+": Redis fails; broadcasts and requests to other nodes are lost until it answers", "err", err)
	}
}
