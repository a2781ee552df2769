package server

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"html/template"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/switchboardhq/switchboard"
)

type importData struct {
	FileName string
	Errors   []switchboard.FieldError
	Summary  string
	Result   *switchboard.ImportResult
	// Invitations are the links made for new people, the first few of
	// them in First; LinksCSV has all of them as a file to download.
	Invitations []importLink
	First       []importLink
	LinksCSV    template.URL
	Columns     []string
	// Once names this showing of the form, so that sending the same
	// upload again (a reload of the result) imports nothing twice.
	Once string
}

// importDoneKey is the session key that says the upload of the form shown
// as once was imported.
func importDoneKey(once string) string { return "import.done." + once }

// importLink is an invitation link made by an import, and whose it is.
type importLink struct{ Name, Email, URL string }

// importLinksShown is how many invitation links the result page lists;
// the file has them all.
const importLinksShown = 5

// importLinksFile is the invitation links as a CSV file in a data: URL.
// The links are secrets: put in the page that answers the import, they
// reach only the admin who imported, once, and are kept nowhere.
func importLinksFile(links []importLink) template.URL {
	var buf bytes.Buffer
	cw := switchboard.NewCSVWriter(&buf)
	_ = cw.Write([]string{"name", "email", "link"})
	for _, l := range links {
		_ = cw.Write([]string{l.Name, l.Email, l.URL})
	}
	_ = cw.Flush()
	// Base64 leaves nothing in the URL that could break out of it.
	return template.URL("data:text/csv;charset=utf-8;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))
}

func (s *Server) renderImport(w http.ResponseWriter, r *http.Request, status int, d *importData) {
	d.Columns = switchboard.ImportColumns
	if d.Once == "" || d.Result != nil {
		d.Once = rand.Text()
	}
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
	once := r.FormValue("once")
	if len(once) > 64 {
		once = ""
	}
	if once != "" && s.sessions.Exists(r.Context(), importDoneKey(once)) {
		// Machine agents may share a name: a second import would make them
		// twice.
		d.Summary = "This upload was imported already, so nothing was imported again. The agents list shows what it added."
		s.renderImport(w, r, http.StatusConflict, d)
		return
	}
	d.Once = once
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
	if once != "" {
		s.sessions.Put(r.Context(), importDoneKey(once), true)
	}
	for _, inv := range res.Invitations {
		j := s.invitationJSON(r.Context(), inv)
		d.Invitations = append(d.Invitations, importLink{Name: inv.Name, Email: j.Email, URL: j.URL})
	}
	if len(d.Invitations) > 0 {
		d.First = d.Invitations[:min(len(d.Invitations), importLinksShown)]
		d.LinksCSV = importLinksFile(d.Invitations)
	}
	s.renderImport(w, r, http.StatusCreated, d)
}
