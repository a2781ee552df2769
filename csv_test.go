package switchboard_test

import (
	"bytes"
	"encoding/csv"
	"testing"

	"github.com/switchboardhq/switchboard"
)

func TestNeutralizeCSVCell(t *testing.T) {
	for cell, want := range map[string]string{
		"":                     "",
		"Ada":                  "Ada",
		"=HYPERLINK(\"x\")":    "'=HYPERLINK(\"x\")",
		"+14155550123":         "'+14155550123",
		"-5":                   "'-5",
		"@SUM(A1)":             "'@SUM(A1)",
		"\tcmd":                "'\tcmd",
		"\rcmd":                "'\rcmd",
		"a=b":                  "a=b",
		"'already quoted text": "'already quoted text",
	} {
		if got := switchboard.NeutralizeCSVCell(cell); got != want {
			t.Errorf("NeutralizeCSVCell(%q) = %q, want %q", cell, got, want)
		}
	}
}

// What CSVWriter writes, a spreadsheet shows as text, and an import reads
// back unchanged.
func TestCSVWriter_RoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := switchboard.NewCSVWriter(&buf)
	records := [][]string{
		{"name", "kind", "phone", "skills", "attributes"},
		{"=cmd|' /C calc'!A0", "machine", "+14155550123", "billing:3", `{"formula":"=1+1"}`},
		{"@agent", "machine", "", "", ""},
	}
	for _, r := range records {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	written, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if written[1][0] != "'=cmd|' /C calc'!A0" || written[1][2] != "'+14155550123" || written[2][0] != "'@agent" {
		t.Errorf("written %q", written)
	}
	if !bytes.Contains(buf.Bytes(), []byte("\r\n")) {
		t.Error("lines do not end in CRLF")
	}
	rows, err := switchboard.ParseAgentCSV(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if a := rows[0].Agent; a.Name != "=cmd|' /C calc'!A0" || a.Phone != "+14155550123" || a.Attributes["formula"] != "=1+1" {
		t.Errorf("read back %+v", a)
	}
	if rows[1].Agent.Name != "@agent" {
		t.Errorf("read back %q", rows[1].Agent.Name)
	}
}
