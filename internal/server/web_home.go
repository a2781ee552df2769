package server

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard"
)

type homeData struct {
	Users         int
	Stats         *switchboard.Stats
	TasksChart    chart
	PresenceChart chart
}

// New reports whether nothing is set up yet: no agent at work or waiting
// for approval, and no queue; the page then says how to start.
func (d *homeData) New() bool {
	return d.Stats.Agents.Active+d.Stats.Agents.Pending == 0 && len(d.Stats.Queues) == 0
}

// Summary says the main figures in a sentence, for screen readers when
// the page updates.
func (d *homeData) Summary() string {
	st := d.Stats
	return fmt.Sprintf("%d tasks waiting, %d assigned, %d agents available, %d busy.",
		st.Totals.Depth(), st.Totals.Assigned, st.Agents.Available, st.Agents.Busy)
}

// UtilisationPercent is the fleet's average utilisation, in whole percent.
func (d *homeData) UtilisationPercent() int { return int(d.Stats.Utilisation.Average*100 + 0.5) }

// webHome is the dashboard of admins and supervisors: what waits, who
// works, and the last 24 hours. Agents go to their work.
func (s *Server) webHome(w http.ResponseWriter, r *http.Request) {
	s.renderHome(w, r, "")
}

// webHomeLive answers the part of the dashboard that changes, for the
// page's script to put in place of the old one.
func (s *Server) webHomeLive(w http.ResponseWriter, r *http.Request) {
	s.renderHome(w, r, "homeLive")
}

func (s *Server) renderHome(w http.ResponseWriter, r *http.Request, fragment string) {
	ctx := r.Context()
	actor := switchboard.ActorFromContext(ctx)
	if actor.Role() == switchboard.RoleAgent {
		// People who take work start with it; without an agent, their
		// profile says how they get one.
		if s.myAgent(r) != nil {
			seeOther(w, r, "/my-work")
		} else {
			seeOther(w, r, "/profile")
		}
		return
	}
	d := &homeData{}
	var err error
	if d.Stats, err = s.Stats.Stats(ctx, switchboard.StatsFilter{}); err != nil {
		s.internalError(w, r, err)
		return
	}
	if actor.IsAdmin() {
		if d.Users, err = s.Users.CountUsers(ctx); err != nil {
			s.internalError(w, r, err)
			return
		}
	}
	d.TasksChart, d.PresenceChart = statsCharts(d.Stats)
	s.render(w, r, http.StatusOK, "home", page{Title: "Dashboard", Section: "home", Data: d,
		Scripts: []string{"dashboard.js"}, fragment: fragment})
}

// statsCharts draws the last 24 hours: tasks created, assigned and
// completed per hour, and the most agents present in each hour.
func statsCharts(st *switchboard.Stats) (tasks, present chart) {
	n := len(st.Series)
	labels := make([]string, n)
	series := []chartSeries{
		{Name: "Created", Class: "series-1", Values: make([]int, n)},
		{Name: "Assigned", Class: "series-2", Values: make([]int, n)},
		{Name: "Completed", Class: "series-3", Values: make([]int, n)},
	}
	presentValues := make([]int, n)
	var created, assigned, completed, peak, busiest int
	for i, p := range st.Series {
		labels[i] = p.Start.UTC().Format("15:04")
		series[0].Values[i], series[1].Values[i], series[2].Values[i] = p.Created, p.Assigned, p.Completed
		presentValues[i] = p.AgentsPresent
		created, assigned, completed = created+p.Created, assigned+p.Assigned, completed+p.Completed
		if p.Created > st.Series[busiest].Created {
			busiest = i
		}
		peak = max(peak, p.AgentsPresent)
	}
	var summary strings.Builder
	fmt.Fprintf(&summary, "In the last 24 hours, %d tasks were created, %d assigned and %d completed.", created, assigned, completed)
	if n > 0 && created > 0 {
		fmt.Fprintf(&summary, " The busiest hour was %s UTC, with %d created.", labels[busiest], st.Series[busiest].Created)
	}
	tasks = chart{ID: "chart-tasks", Title: "Tasks per hour, last 24 hours", Summary: summary.String(),
		XLabel: "Hour starting (UTC)", YLabel: "Tasks", Labels: labels, Every: 3, Series: series}
	nowPresent := 0
	if n > 0 {
		nowPresent = presentValues[n-1]
	}
	present = chart{ID: "chart-present", Title: "Agents present, last 24 hours",
		Summary: fmt.Sprintf("At most %d agents were present in an hour of the last 24; %d this hour.", peak, nowPresent),
		XLabel:  "Hour starting (UTC)", YLabel: "Agents", Labels: labels, Every: 3, Bars: true,
		Series: []chartSeries{{Name: "Agents present", Class: "series-4", Values: presentValues}}}
	return tasks, present
}

// roughDuration says a duration in its two largest units, "14 h 20 min":
// what a glance at a wait needs.
func roughDuration(d time.Duration) string {
	parts := strings.Fields(humanDuration(d))
	return strings.Join(parts[:min(len(parts), 4)], " ")
}
