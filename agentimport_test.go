package switchboard_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard"
)

// FuzzParseAgentCSV: whatever file is uploaded, the parser does not panic;
// it refuses with EINVALID errors that name a line, or returns agents that
// pass validation; and what it returns, written back with CSVWriter, reads
// back the same.
func FuzzParseAgentCSV(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := switchboard.ParseAgentCSV(bytes.NewReader(data))
		if err != nil {
			if switchboard.ErrorCode(err) != switchboard.EINVALID || len(switchboard.ErrorFields(err)) == 0 {
				t.Fatalf("error %v, want EINVALID with fields", err)
			}
			for _, fe := range switchboard.ErrorFields(err) {
				if fe.Line < 0 || fe.Field == "" {
					t.Fatalf("field error %+v lacks its place", fe)
				}
			}
			return
		}
		if len(rows) == 0 {
			t.Fatal("no rows and no error")
		}
		for _, r := range rows {
			a := r.Agent
			if err := a.Validate(); err != nil {
				t.Fatalf("line %d: accepted agent is invalid: %v", r.Line, err)
			}
			if r.Line < 2 {
				t.Fatalf("agent on line %d, before the first row", r.Line)
			}
		}

		var out bytes.Buffer
		w := switchboard.NewCSVWriter(&out)
		if err := w.Write(switchboard.ImportColumns); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if err := w.Write(importRecord(t, r)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		again, err := switchboard.ParseAgentCSV(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("written back, the rows do not parse: %v\n%s", err, out.Bytes())
		}
		if len(again) != len(rows) {
			t.Fatalf("%d rows read back, want %d", len(again), len(rows))
		}
		for i := range rows {
			want, got := rows[i], again[i]
			want.Line, got.Line = 0, 0
			if !reflect.DeepEqual(importRecord(t, want), importRecord(t, got)) {
				t.Fatalf("row %d read back as\n%q\nwant\n%q", i, importRecord(t, got), importRecord(t, want))
			}
		}
	})
}

// importRecord writes a parsed row in ImportColumns' order, as an export
// would.
func importRecord(t *testing.T, r switchboard.ImportRow) []string {
	a := r.Agent
	var skills []string
	for _, name := range switchboard.SortedSkills(a.Skills) {
		skills = append(skills, name+":"+strconv.Itoa(a.Skills[name]))
	}
	var notify []string
	for _, c := range a.Notify {
		notify = append(notify, string(c))
	}
	teams := slices.Clone(r.TeamNames)
	sort.Strings(teams)
	attributes := ""
	if a.Attributes != nil {
		b, err := json.Marshal(a.Attributes)
		if err != nil {
			t.Fatal(err)
		}
		attributes = string(b)
	}
	return []string{a.Name, string(a.Kind), a.Email, a.Phone, strings.Join(skills, ";"), strconv.Itoa(a.Capacity),
		strings.Join(teams, ";"), string(a.Status), strings.Join(notify, ";"), attributes}
}
