package events

import (
	"context"
	"time"

	"github.com/switchboardhq/switchboard"
)

// Follow keeps something held in memory in step with the event log through
// broker until ctx ends: apply learns of every batch of events. What is
// held may be kept only while live(true) stands: when the subscription
// breaks (a lagging subscriber is dropped, the hub stops), live(false)
// says that the events in between are unknown and everything must be
// forgotten, and Follow subscribes again a second later.
func Follow(ctx context.Context, broker switchboard.EventBroker, live func(bool), apply func([]*switchboard.Event)) {
	defer live(false)
	for ctx.Err() == nil {
		sub := broker.Subscribe()
		live(true)
		drain(ctx, sub, apply)
		sub.Close()
		live(false)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func drain(ctx context.Context, sub switchboard.EventSubscription, apply func([]*switchboard.Event)) {
	for {
		select {
		case <-ctx.Done():
			return
		case batch, ok := <-sub.C():
			if !ok {
				return
			}
			apply(batch)
		}
	}
}
