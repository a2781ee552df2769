package switchboard

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// MaxImportRows bounds the agents of one import.
const MaxImportRows = 50_000

// ImportRow is one agent read from an import file. TeamNames are resolved
// to teams by the service. Problems are what was found wrong with the line
// while reading it (its agent already validated): the service reports them
// with the problems only the database can find, and imports nothing.
type ImportRow struct {
	Line      int
	Agent     NewAgent
	TeamNames []string
	Problems  []FieldError
}

// ImportResult says what an import created.
type ImportResult struct {
	Created int
	// Invited counts the users created and invited for human agents whose
	// e-mail address belonged to no user.
	Invited     int
	Invitations []*Invitation
}

// ImportColumns are the columns an agent CSV may have; name and kind are
// required, the others optional, in any order.
var ImportColumns = []string{"name", "kind", "email", "phone", "skills", "capacity", "teams", "status", "notify", "attributes"}

// ParseAgentCSV reads agents from CSV: a header row naming columns from
// ImportColumns, then one agent per row. Cells that CSVWriter neutralised
// read as they were written. Skills are written as
// "skill:level;skill:level", teams and notification channels as names
// separated by ';', attributes as a JSON object. Every problem of form is
// reported, each with its line, as one EINVALID error; checks that need the
// database (teams, e-mail addresses) are the service's. When the problems
// are all on lines of agents (not in the header), the rows come back with
// the error, each carrying its line's Problems, so that the service can add
// its own checks and one answer lists every problem of the file.
func ParseAgentCSV(r io.Reader) ([]ImportRow, error) {
	cr := csv.NewReader(stripBOM(r))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	var v Validation

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		v.AddLine(1, "header", "The file is empty: the first line must name the columns, like name,kind,email,skills.")
		return nil, v.Err()
	} else if err != nil {
		v.AddLine(1, "header", "%s", csvProblem(err))
		return nil, v.Err()
	}
	columns := map[string]int{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		switch {
		case !contains(ImportColumns, name):
			v.AddLine(1, "header", "Unknown column %q; the columns are %s.", h, strings.Join(ImportColumns, ", "))
		case columns[name] != 0:
			v.AddLine(1, "header", "Column %q appears twice.", name)
		default:
			columns[name] = i + 1 // 1-based, so that 0 means absent
		}
	}
	for _, required := range []string{"name", "kind"} {
		if columns[required] == 0 {
			v.AddLine(1, "header", "The header has no %q column; it is required.", required)
		}
	}
	if v.Len() > 0 {
		return nil, v.Err()
	}

	var rows []ImportRow
	for {
		record, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			n := v.Len()
			v.AddLine(line, "row", "%s", csvProblem(err))
			rows = append(rows, ImportRow{Line: line, Problems: slices.Clone(v.fields[n:])})
			if v.Len() > 1000 {
				break
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		get := func(col string) string {
			if i := columns[col]; i != 0 && i <= len(record) {
				return strings.TrimSpace(restoreCSVCell(record[i-1]))
			}
			return ""
		}
		if blank(record) {
			continue
		}
		if len(rows) == MaxImportRows {
			v.AddLine(line, "row", "An import holds at most %d agents; split the file.", MaxImportRows)
			return nil, v.Err()
		}
		n := v.Len()
		row := ImportRow{Line: line, Agent: NewAgent{
			Name:  get("name"),
			Kind:  AgentKind(get("kind")),
			Email: get("email"),
			Phone: get("phone"),
		}}
		row.Agent.Skills = parseSkillList(&v, line, get("skills"))
		if c := get("capacity"); c != "" {
			n, err := strconv.Atoi(c)
			if err != nil {
				v.AddLine(line, "capacity", "Capacity %q is not a whole number.", c)
			}
			row.Agent.Capacity = n
		}
		row.TeamNames = splitList(get("teams"))
		if slices.ContainsFunc(row.TeamNames, func(n string) bool { return strings.ContainsFunc(n, isControl) }) {
			// No team can have such a name, and CSV would not carry it
			// back: a quoted carriage return is read as nothing.
			v.AddLine(line, "teams", "Team names must not contain control characters.")
		}
		if s := get("status"); s != "" {
			row.Agent.Status = AgentStatus(strings.ToLower(s))
		}
		if n := get("notify"); n != "" {
			for _, c := range splitList(n) {
				row.Agent.Notify = append(row.Agent.Notify, Channel(strings.ToLower(c)))
			}
		}
		if a := get("attributes"); a != "" {
			attributes, err := ParseJSONObject("attributes", a)
			v.Merge(line, err)
			row.Agent.Attributes = attributes
		}
		row.Agent.Normalize()
		if err := row.Agent.Validate(); err != nil {
			v.Merge(line, err)
		}
		row.Problems = slices.Clone(v.fields[n:])
		rows = append(rows, row)
		if v.Len() > 1000 {
			break // enough to fix first; the rest would drown them
		}
	}
	if len(rows) == 0 {
		v.AddLine(2, "row", "The file has a header but no agents.")
		return nil, v.Err()
	}
	return rows, v.Err()
}

// ParseSkills reads skills written as "billing:7, spanish:5": name:level
// pairs separated by commas, semicolons or new lines, as people type them in
// a form. Problems are reported under field.
func ParseSkills(field, s string) (map[string]int, error) {
	var v Validation
	s = strings.NewReplacer(",", ";", "\n", ";", "\r", ";").Replace(s)
	skills := parseSkillList(&v, 0, s)
	for i := range v.fields {
		v.fields[i].Field = field
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return skills, nil
}

// FormatSkills writes skills the way ParseSkills reads them, sorted by name.
func FormatSkills(skills map[string]int) string {
	parts := make([]string, 0, len(skills))
	for _, name := range SortedSkills(skills) {
		parts = append(parts, fmt.Sprintf("%s:%d", name, skills[name]))
	}
	return strings.Join(parts, ", ")
}

// parseSkillList reads "billing:7; spanish:5".
func parseSkillList(v *Validation, line int, s string) map[string]int {
	skills := map[string]int{}
	for _, item := range splitList(s) {
		name, level, ok := strings.Cut(item, ":")
		n, err := strconv.Atoi(strings.TrimSpace(level))
		if !ok || err != nil {
			v.AddLine(line, "skills", "Write each skill as name:level, like billing:7; %q is not.", item)
			continue
		}
		name = NormalizeSkill(name)
		if _, dup := skills[name]; dup {
			v.AddLine(line, "skills", "Skill %q is listed twice.", name)
		}
		skills[name] = n
	}
	return skills
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ";") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func blank(record []string) bool {
	for _, f := range record {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func csvProblem(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("The line is not valid CSV: %v.", pe.Err)
	}
	return "The file could not be read as CSV."
}

// stripBOM drops the byte-order mark spreadsheet programs put at the start
// of UTF-8 CSV files, which would otherwise become part of the first column
// name.
func stripBOM(r io.Reader) io.Reader {
	br := &bomReader{r: r}
	return br
}

type bomReader struct {
	r       io.Reader
	checked bool
	buf     []byte
}

func (b *bomReader) Read(p []byte) (int, error) {
	if !b.checked {
		b.checked = true
		head := make([]byte, 3)
		n, err := io.ReadFull(b.r, head)
		head = head[:n]
		if !bytes.Equal(head, []byte{0xEF, 0xBB, 0xBF}) {
			b.buf = head
		}
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return 0, err
		}
	}
	if len(b.buf) > 0 {
		n := copy(p, b.buf)
		b.buf = b.buf[n:]
		return n, nil
	}
	return b.r.Read(p)
}
