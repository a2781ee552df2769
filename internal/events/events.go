// Package events owns the live side of the event log on one server instance:
// a Hub, the single reader that follows the log and fans each new batch out
// to the instance's subscribers in memory, and the wake-ups that tell a Hub,
// across instances, that another one has committed events (PostgreSQL
// LISTEN/NOTIFY or Redis pub/sub). The log itself stays the source of truth:
// a wake-up only says "read now", so a lost one costs latency, never events.
package events

import switchboard "github.com/switchboardhq/switchboard"

// ErrStopped is why a subscription is closed when its Hub is not running:
// before Start, or once the server is shutting down. Closing the streams then
// lets their handlers return, so that a graceful shutdown does not wait on
// clients that never hang up; they resume elsewhere from their last event.
var ErrStopped = &switchboard.Error{Code: switchboard.ECONFLICT, Message: "The event stream stopped on this server; reconnect to resume from the last event received."}
