package switchboard

import (
	"encoding/csv"
	"io"
	"strings"
)

// CSVWriter writes the CSV files Switchboard offers for download (the
// import template, exports), which people open in spreadsheet programs.
// Those run a cell that starts with =, +, - or @ as a formula, and some a
// cell that starts with a tab or carriage return: text an agent or user
// typed could then compute, fetch or exfiltrate in the reader's
// spreadsheet. Every such cell is written with a single quote before it,
// which spreadsheets show as text and ParseAgentCSV removes again, so that
// what is written imports unchanged.
type CSVWriter struct {
	w      *csv.Writer
	record []string
}

// NewCSVWriter returns a writer of CSV to w, with CRLF line ends as RFC 4180
// and spreadsheet programs expect.
func NewCSVWriter(w io.Writer) *CSVWriter {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	return &CSVWriter{w: cw}
}

// Write writes one record, neutralising cells that a spreadsheet would run.
func (c *CSVWriter) Write(record []string) error {
	c.record = c.record[:0]
	for _, cell := range record {
		c.record = append(c.record, NeutralizeCSVCell(cell))
	}
	return c.w.Write(c.record)
}

// Flush writes what is buffered and reports any error of the writes.
func (c *CSVWriter) Flush() error {
	c.w.Flush()
	return c.w.Error()
}

// formulaStarts are the first characters that make spreadsheet programs
// read a cell as a formula (OWASP's list).
const formulaStarts = "=+-@\t\r"

// NeutralizeCSVCell returns cell as a spreadsheet shows it as text: with a
// single quote before it when it starts like a formula.
func NeutralizeCSVCell(cell string) string {
	if cell != "" && strings.ContainsRune(formulaStarts, rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

// restoreCSVCell undoes NeutralizeCSVCell, so that files Switchboard wrote
// import as they were: a single quote before a formula's first character
// is dropped. Spreadsheet programs drop such a quote themselves when they
// save, so it can only come from a file written by NeutralizeCSVCell.
func restoreCSVCell(cell string) string {
	if len(cell) >= 2 && cell[0] == '\'' && strings.ContainsRune(formulaStarts, rune(cell[1])) {
		return cell[1:]
	}
	return cell
}
