package server

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/switchboardhq/switchboard"
)

type importData struct {
	FileName    string
	Errors      []switchboard.FieldError
	Summary     string
	Result      *switchboard.ImportResult
	Invitations []*InvitationJSON
	Columns     []string
}

func (s *Server) renderImport(w http.ResponseWriter, r *http.Request, status int, d *importData) {
	d.Columns = switchboard.ImportColumns
	s.render(w, r, status, "agent_import", page{Title: "Import agents", Section: "agents", Data: d})
}

func (s *Server) webImport(w http.ResponseWriter, r *http.Request) {
	s.renderImport(w, r, http.StatusOK, &importData{})
}

// importTemplate is a CSV to start from, offered for download: the columns
// of an import, in ImportColumns' order, and two example agents.
var importTemplate = [][]string{
	switchboard.ImportColumns,
	{"Ada Lovelace", "human", "ada@example.com", "+14155550123", "billing:7;spanish:5", "2", "", "", "email;inapp", ""},
	{"Build runner 1", "machine", "", "", "linux:8;docker:6", "4", "", "", "", `{"region":"emea"}`},
}

func (s *Server) webImportTemplate(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="switchboard-agents.csv"`)
	cw := switchboard.NewCSVWriter(w)
	for _, record := range importTemplate {
		_ = cw.Write(record)
	}
	_ = cw.Flush()
}

// webImportSubmit imports an uploaded CSV file: all of it, or, when any row
// is wrong, none of it, with every problem listed by line.
func (s *Server) webImportSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxImportBytes+64<<10)
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.renderImport(w, r, http.StatusRequestEntityTooLarge, &importData{Summary: "The file is too large: an import holds at most 32 MiB."})
			return
		}
		s.renderImport(w, r, http.StatusBadRequest, &importData{Summary: "The upload could not be read; choose the file again."})
		return
	}
	defer r.MultipartForm.RemoveAll()
	file, header, err := r.FormFile("file")
	if err != nil {
		s.renderImport(w, r, http.StatusUnprocessableEntity, &importData{Summary: "Choose a CSV file to import."})
		return
	}
	defer file.Close()
	data, err := io.ReadAll(file)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	d := &importData{FileName: header.Filename}
	if !utf8.Valid(data) {
		d.Summary = "The file is not UTF-8 text. Save it as “CSV UTF-8” and try again."
		s.renderImport(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	rows, err := switchboard.ParseAgentCSV(bytes.NewReader(data))
	var res *switchboard.ImportResult
	if err == nil {
		err = s.canImport(r.Context(), rows)
	}
	if err == nil || rows != nil {
		// With rows that have problems, the service adds the ones only the
		// database can find (unknown teams, e-mail addresses in use) and
		// imports nothing.
		res, err = s.Agents.ImportAgents(r.Context(), rows)
	}
	if err != nil {
		code := switchboard.ErrorCode(err)
		if code == switchboard.ENOTIMPLEMENTED {
			d.Summary = "Nothing was imported. " + switchboard.ErrorMessage(err)
			s.renderImport(w, r, http.StatusNotImplemented, d)
			return
		}
		if code != switchboard.EINVALID {
			s.loadFailed(w, r, err)
			return
		}
		d.Errors = switchboard.ErrorFields(err)
		d.Summary = "Nothing was imported. Correct these lines and upload the file again."
		s.renderImport(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	d.Result = res
	for _, inv := range res.Invitations {
		d.Invitations = append(d.Invitations, s.invitationJSON(r.Context(), inv))
	}
	s.renderImport(w, r, http.StatusCreated, d)
}
