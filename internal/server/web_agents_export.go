package server

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard"
)

// csvHeader are the columns of an agent export.
var csvHeader = []string{"id", "name", "kind", "email", "phone", "status", "presence", "skills", "teams", "capacity", "last_seen_at", "created_at"}

// csvCell neutralises a cell that a spreadsheet would run as a formula
// (one starting with = + - @, a tab or a carriage return) by putting an
// apostrophe first: an agent's name or attribute comes from whoever created
// or enrolled it, and must not run in the reader's spreadsheet.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// webExportAgents streams the agents the list's filter matches as CSV, one
// page of agents read at a time, so that a large export holds one page in
// memory, not the whole list.
func (s *Server) webExportAgents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	filter, err := parseAgentList(r.URL.Query())
	if err != nil {
		s.renderError(w, r, http.StatusBadRequest, switchboard.ErrorMessage(err))
		return
	}
	filter.Limit, filter.Cursor = switchboard.MaxPageLimit, ""
	// The first page is read before the answer starts, so that an error can
	// still be an error page.
	p, err := s.Agents.FindAgents(ctx, filter)
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="agents-`+s.Now().UTC().Format("20060102-150405")+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader)
	rc := http.NewResponseController(w)
	for {
		for _, a := range p.Items {
			if err := cw.Write(agentCSVRow(a)); err != nil {
				return // the client went away
			}
		}
		cw.Flush()
		if cw.Error() != nil {
			return
		}
		_ = rc.Flush()
		if p.NextCursor == "" {
			return
		}
		filter.Cursor = p.NextCursor
		if p, err = s.Agents.FindAgents(ctx, filter); err != nil {
			// The status is sent: the log says why the file ends early.
			s.logInternal(ctx, err)
			return
		}
	}
}

func agentCSVRow(a *switchboard.Agent) []string {
	skills := make([]string, 0, len(a.Skills))
	for _, name := range switchboard.SortedSkills(a.Skills) {
		skills = append(skills, name+":"+strconv.Itoa(a.Skills[name]))
	}
	teams := make([]string, len(a.Teams))
	for i, t := range a.Teams {
		teams[i] = t.Name
	}
	lastSeen := ""
	if a.LastSeenAt != nil {
		lastSeen = a.LastSeenAt.UTC().Format(time.RFC3339)
	}
	row := []string{a.ID, a.Name, string(a.Kind), a.Email, a.Phone, string(a.Status), string(a.Presence),
		strings.Join(skills, ";"), strings.Join(teams, ";"), strconv.Itoa(a.Capacity), lastSeen, a.CreatedAt.UTC().Format(time.RFC3339)}
	for i, c := range row {
		row[i] = csvCell(c)
	}
	return row
}
