package sqlstore_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

func mustParse(tb testing.TB, csv string) []switchboard.ImportRow {
	tb.Helper()
	rows, err := switchboard.ParseAgentCSV(strings.NewReader(csv))
	if err != nil {
		tb.Fatalf("parse: %v %v", err, switchboard.ErrorFields(err))
	}
	return rows
}

func TestImportAgents(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewAgentService(db)
		MustCreateTeam(t, db, "Support")
		MustCreateTeam(t, db, "Sales")
		existing := MustCreateUser(t, db, "lead@example.com", switchboard.RoleSupervisor)

		t.Run("AllOrNothing", func(t *testing.T) {
			rows := mustParse(t, "name,kind,email,skills,teams\n"+
				"Ok One,machine,,billing:3,support\n"+
				"Bad Team,machine,,,Nowhere\n"+
				"Dup,human,dup@example.com,,\n"+
				"Dup Again,human,DUP@example.com,,\n"+
				"Lead,human,lead@example.com,,Sales;Support\n")
			_, err := s.ImportAgents(systemCtx(), rows)
			wantCode(t, err, switchboard.EINVALID)
			var lines []int
			for _, f := range switchboard.ErrorFields(err) {
				lines = append(lines, f.Line)
			}
			if fmt.Sprint(lines) != "[3 5]" {
				t.Errorf("errors on lines %v, want [3 5]: %v", lines, switchboard.ErrorFields(err))
			}
			p, _ := s.FindAgents(systemCtx(), switchboard.AgentFilter{})
			if len(p.Items) != 0 {
				t.Errorf("a failed import created %d agents", len(p.Items))
			}
		})
		t.Run("OK", func(t *testing.T) {
			rows := mustParse(t, "\ufeffName,Kind,Email,Phone,Skills,Capacity,Teams,Status,Notify,Attributes\n"+
				"Router,machine,,,billing:7;spanish:5,3,Support,,,\"{\"\"region\"\":\"\"emea\"\"}\"\n"+
				"\n"+
				"Lead,human,lead@example.com,+1 415 555 0123,,,Sales;support,,email;sms,\n"+
				"New Person,human,new@example.com,,,,,pending,,\n")
			res, err := s.ImportAgents(systemCtx(), rows)
			if err != nil {
				t.Fatalf("%v %v", err, switchboard.ErrorFields(err))
			}
			if res.Created != 3 || res.Invited != 1 || len(res.Invitations) != 1 || res.Invitations[0].Email != "new@example.com" {
				t.Errorf("result %+v", res)
			}
			lead, err := s.FindAgentByUserID(systemCtx(), existing.ID)
			if err != nil {
				t.Fatal(err)
			}
			if lead.Phone != "+14155550123" || len(lead.Teams) != 2 || lead.Status != switchboard.AgentActive || len(lead.Notify) != 2 {
				t.Errorf("lead %+v", lead)
			}
			p, _ := s.FindAgents(systemCtx(), switchboard.AgentFilter{Query: "router"})
			if len(p.Items) != 1 || p.Items[0].Skills["spanish"] != 5 || p.Items[0].Capacity != 3 || p.Items[0].Attributes["region"] != "emea" {
				t.Errorf("router %+v", p.Items)
			}
			// Lead now has an agent: importing them again is an error.
			_, err = s.ImportAgents(systemCtx(), mustParse(t, "name,kind,email\nLead,human,lead@example.com\n"))
			wantCode(t, err, switchboard.EINVALID)
		})
		t.Run("ErrForbiddenForSupervisor", func(t *testing.T) {
			_, err := s.ImportAgents(asUser(existing), mustParse(t, "name,kind\nX,machine\n"))
			wantCode(t, err, switchboard.EFORBIDDEN)
		})
	})
}

func TestParseAgentCSV_Errors(t *testing.T) {
	for _, tc := range []struct {
		name, csv string
		want      []string // "line:field"
	}{
		{"Empty", "", []string{"1:header"}},
		{"NoRows", "name,kind\n", []string{"2:row"}},
		{"UnknownColumn", "name,kind,colour\nA,machine,red\n", []string{"1:header"}},
		{"MissingKind", "name\nA\n", []string{"1:header"}},
		{"BadValues", "name,kind,skills,capacity,phone\n" +
			"A,machine,billing,2,\n" +
			"B,machine,billing:11,x,\n" +
			",robot,,,12\n", []string{"2:skills", "3:capacity", "3:skills.billing", "4:name", "4:kind", "4:phone"}},
		{"BadQuote", "name,kind\n\"A,machine\n", []string{"2:row"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := switchboard.ParseAgentCSV(strings.NewReader(tc.csv))
			wantCode(t, err, switchboard.EINVALID)
			got := map[string]bool{}
			for _, f := range switchboard.ErrorFields(err) {
				got[fmt.Sprintf("%d:%s", f.Line, f.Field)] = true
			}
			for _, w := range tc.want {
				if !got[w] {
					t.Errorf("no error %s in %v", w, switchboard.ErrorFields(err))
				}
			}
		})
	}
}

// TestImportAgents_TenThousand imports 10,000 agents in one go on every
// engine. How long it takes is measured by BenchmarkImportAgents, not here.
func TestImportAgents_TenThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	csv := bigCSV(10_000)
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		support := MustCreateTeam(t, db, "Support")
		res, err := sqlstore.NewAgentService(db).ImportAgents(systemCtx(), mustParse(t, csv))
		if err != nil {
			t.Fatalf("%v %v", err, switchboard.ErrorFields(err))
		}
		if res.Created != 10_000 || res.Invited != 5_000 {
			t.Errorf("result %d created, %d invited", res.Created, res.Invited)
		}
		p, err := sqlstore.NewAgentService(db).FindAgents(systemCtx(), switchboard.AgentFilter{Skill: "billing", MinLevel: 10, Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) != 200 || p.NextCursor == "" {
			t.Errorf("%d agents with billing 10 on the first page", len(p.Items))
		}
		// Sets too big to read agent by agent are checked along the list,
		// and page alike.
		for _, tc := range []struct {
			f     switchboard.AgentFilter
			first string
		}{
			{switchboard.AgentFilter{TeamID: support.ID}, "Person 00000"},
			{switchboard.AgentFilter{Skill: "billing"}, "Person 00000"},
			{switchboard.AgentFilter{Skill: "billing", MinLevel: 2, TeamID: support.ID}, "Person 00002"}, // 00000 has level 1
		} {
			f := tc.f
			f.Limit = 200
			first, err := sqlstore.NewAgentService(db).FindAgents(systemCtx(), f)
			if err != nil {
				t.Fatal(err)
			}
			f.Cursor = first.NextCursor
			second, err := sqlstore.NewAgentService(db).FindAgents(systemCtx(), f)
			if err != nil {
				t.Fatal(err)
			}
			if len(first.Items) != 200 || len(second.Items) != 200 || first.Items[0].Name != tc.first ||
				second.Items[0].Name <= first.Items[199].Name {
				t.Errorf("%+v: pages of %d and %d, from %s", f, len(first.Items), len(second.Items), first.Items[0].Name)
			}
		}
	})
}

func bigCSV(n int) string {
	var b strings.Builder
	b.WriteString("name,kind,email,phone,skills,capacity,teams\n")
	for i := range n {
		if i%2 == 0 {
			fmt.Fprintf(&b, "Person %05d,human,person%05d@example.com,+1415555%04d,billing:%d;spanish:3,2,Support\n", i, i, i%10000, i%10+1)
		} else {
			fmt.Fprintf(&b, "Worker %05d,machine,,,billing:%d,10,Support\n", i, i%10+1)
		}
	}
	return b.String()
}

func BenchmarkImportAgents(b *testing.B) {
	csv := bigCSV(10_000)
	for _, engine := range sqlstoretest.Engines {
		b.Run(string(engine), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				db := sqlstoretest.Open(b, engine)
				MustCreateTeam(b, db, "Support")
				b.StartTimer()
				rows, err := switchboard.ParseAgentCSV(strings.NewReader(csv))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := sqlstore.NewAgentService(db).ImportAgents(systemCtx(), rows); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
