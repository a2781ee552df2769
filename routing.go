package switchboard

// RoutingStrategy is how a queue chooses among the agents eligible for a
// task (DESIGN §3).
type RoutingStrategy string

const (
	// LongestIdle offers work to the agent idle the longest: the one whose
	// last assignment is oldest, or who never had one.
	LongestIdle RoutingStrategy = "longest_idle"
	// LeastLoaded offers work to the agent with the lowest share of their
	// capacity in use, then the longest idle.
	LeastLoaded RoutingStrategy = "least_loaded"
	// RoundRobin takes eligible agents in turn, after the queue's last.
	RoundRobin RoutingStrategy = "round_robin"
	// MostSkilled offers work to the agent with the highest total level on
	// the required skills, then the longest idle.
	MostSkilled RoutingStrategy = "most_skilled"
	// Manual never routes by itself: a supervisor assigns each task.
	Manual RoutingStrategy = "manual"
)

// RoutingStrategies lists every strategy, the default first.
var RoutingStrategies = []RoutingStrategy{LongestIdle, LeastLoaded, RoundRobin, MostSkilled, Manual}

// Valid reports whether s is a known strategy.
func (s RoutingStrategy) Valid() bool {
	for _, known := range RoutingStrategies {
		if s == known {
			return true
		}
	}
	return false
}

// CanTakeWork reports whether an agent in this presence may be given work,
// load allowing: available agents, and busy ones (busy only says that some
// capacity is in use).
func (p Presence) CanTakeWork() bool { return p == PresenceAvailable || p == PresenceBusy }
