package server

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/switchboardhq/switchboard"
)

// maxFormBytes bounds an ordinary form submission.
const maxFormBytes = 64 << 10

// parseForm reads a url-encoded form of bounded size with valid UTF-8 and no
// NUL characters. On failure it has already answered, and returns false.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) (*form, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.renderError(w, r, http.StatusRequestEntityTooLarge, "The form is too large.")
		} else {
			s.renderError(w, r, http.StatusBadRequest, "The form could not be read.")
		}
		return nil, false
	}
	for name, vs := range r.PostForm {
		for _, v := range vs {
			if !utf8.ValidString(v) || !utf8.ValidString(name) {
				s.renderError(w, r, http.StatusBadRequest, "The form holds text that is not valid UTF-8.")
				return nil, false
			}
			// No field takes a NUL character, and PostgreSQL stores none.
			if !switchboard.ValidText(v) || !switchboard.ValidText(name) {
				s.renderError(w, r, http.StatusUnprocessableEntity, "The form holds a NUL character, which no field accepts.")
				return nil, false
			}
		}
	}
	return newForm(r.PostForm), true
}

// requireSignIn sends anonymous browsers to the sign-in page, remembering
// where they were going. The pages are for people: a machine agent's token
// gets a refusal, not a page meant for a user.
func (s *Server) requireSignIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor := switchboard.ActorFromContext(r.Context())
		if actor != nil && actor.User != nil {
			next.ServeHTTP(w, r)
			return
		}
		if actor != nil {
			s.renderError(w, r, http.StatusForbidden, "The web pages are for people; agents use the API under /api/v1.")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.renderError(w, r, http.StatusUnauthorized, "Your session has ended; sign in again.")
			return
		}
		target := "/signin"
		if r.URL.Path != "/" {
			target += "?next=" + url.QueryEscape(r.URL.RequestURI())
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
	})
}

// requireRole lets only users of the given roles through.
func (s *Server) requireRole(roles ...switchboard.Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !slices.Contains(roles, switchboard.ActorFromContext(r.Context()).Role()) {
				s.renderError(w, r, http.StatusForbidden, "Your role does not give access to this page.")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// localPath returns next if it is a path on this site, else "/": a sign-in
// link must not become an open redirect. Browsers drop tabs and newlines and
// read backslashes as slashes, so "/\t/evil.example" would leave the site:
// any control character or backslash disqualifies next, and what is kept is
// re-encoded from its parsed form.
func localPath(next string) string {
	if strings.ContainsFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	return u.RequestURI()
}

// seeOther redirects after a successful POST, so that reloading the page
// does not submit it again.
func seeOther(w http.ResponseWriter, r *http.Request, target string) {
	http.Redirect(w, r, target, http.StatusSeeOther)
}
