package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// RedisChannel is the pub/sub channel on which writers announce commits.
const RedisChannel = "switchboard:events"

// Redis wakes the Hubs of every instance through Redis pub/sub, on any
// database engine. Writers Publish after they commit; every instance Listens.
type Redis struct {
	// Channel is RedisChannel unless changed before use; installations that
	// share one Redis set their own, so as not to wake each other.
	Channel string
	client  *redis.Client
}

// NewRedis returns a Redis for a redis:// or rediss:// URL. It does not
// connect until used.
func NewRedis(url string) (*Redis, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("events: redis: %w", err)
	}
	return &Redis{Channel: RedisChannel, client: redis.NewClient(opt)}, nil
}

// Publish announces that events up to position are committed. Listeners
// wake with it, and need not read when they have delivered it already.
func (r *Redis) Publish(ctx context.Context, position int64) error {
	if err := r.client.Publish(ctx, r.Channel, position).Err(); err != nil {
		return fmt.Errorf("events: redis publish: %w", err)
	}
	return nil
}

// Listen subscribes to the channel and calls wake for every message, with
// the position it tells of, until ctx ends; then it returns nil. go-redis
// reconnects and subscribes again by itself after a connection is lost;
// Listen calls wake(0) then too, since messages published meanwhile are
// lost. It returns an error if r is closed first.
func (r *Redis) Listen(ctx context.Context, wake func(position int64), logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("channel", r.Channel)
	pubsub := r.client.Subscribe(ctx)
	defer pubsub.Close()
	// A failed subscribe is remembered and retried with the reconnection;
	// say so, as go-redis retries silently.
	if err := pubsub.Subscribe(ctx, r.Channel); err != nil && ctx.Err() == nil {
		logger.Warn("events: redis listener cannot subscribe yet; retrying", "err", err)
	}
	// The subscription confirmations, which come again after every
	// reconnection, are how a reconnection shows.
	msgs := pubsub.ChannelWithSubscriptions()
	subscribed := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case msg, ok := <-msgs:
			if !ok {
				return errors.New("events: redis listener: client closed")
			}
			position := int64(0)
			switch m := msg.(type) {
			case *redis.Subscription:
				if m.Kind != "subscribe" {
					continue
				}
				if subscribed {
					logger.Info("events: redis listener subscribed again after a reconnection")
				}
				subscribed = true
			case *redis.Message:
				position, _ = notified(m.Payload)
			}
			wake(position)
		}
	}
}

// Publisher returns a function that announces a commit without waiting:
// one goroutine publishes the newest position announced, until ctx ends, so
// that a burst of commits costs one message and a slow Redis never holds up
// a writer. A lost message only delays the other instances until their
// next poll.
func (r *Redis) Publisher(ctx context.Context, logger *slog.Logger) func(position int64) {
	return Coalesce(ctx, logger, "redis", r.Publish)
}

// Close closes the connections to Redis.
func (r *Redis) Close() error { return r.client.Close() }
