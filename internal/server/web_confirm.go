package server

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// confirmation is what a destructive action asks before it acts. Without
// JavaScript the first click lands on a page that says what will happen and
// posts the same form again with confirm=yes; with it, app.js asks in a
// dialog and adds confirm=yes itself, so that one question suffices.
type confirmation struct {
	Title    string // the page's title, like "Suspend Ada Lovelace?"
	Question string // what will happen
	Button   string // the label of the confirming button
	Danger   bool   // the button is drawn as a destructive one
	Cancel   string // where Cancel goes back to
	Section  string // the navigation entry to highlight
	Action   string
	Fields   []option // the form's own fields, posted again
}

// confirmed reports whether the form was confirmed. If not, it answers
// with the confirmation page and returns false: nothing has changed yet.
// Call it after the object was looked up, so that what the actor may not
// see is still a 404 rather than a question about it.
func (s *Server) confirmed(w http.ResponseWriter, r *http.Request, f *form, c confirmation) bool {
	if f.Get("confirm") == "yes" {
		return true
	}
	c.Action = r.URL.EscapedPath()
	for name, values := range f.Values {
		if name == "confirm" {
			continue
		}
		for _, v := range values {
			c.Fields = append(c.Fields, option{Value: v, Label: name})
		}
	}
	slices.SortStableFunc(c.Fields, func(a, b option) int { return strings.Compare(a.Label, b.Label) })
	if c.Button == "" {
		c.Button = "Confirm"
	}
	s.render(w, r, http.StatusOK, "confirm", page{Title: c.Title, Section: c.Section, Data: &c})
	return false
}

// A secret made by a form (a token, a key, a link) is shown once, on the
// page a redirect leads to, so that reloading that page does not submit the
// form again. The secret crosses the redirect sealed: the session, stored
// server-side, keeps only its ciphertext, for a few minutes and one
// reading; the key that opens it travels in the redirect's query, which is
// never logged. Neither alone reveals the secret, and once read the
// ciphertext is gone, so the address in the browser's history opens
// nothing.

// revealLifetime bounds how long a sealed secret waits to be shown.
const revealLifetime = 10 * time.Minute

// revealParam is the query parameter that carries the key.
const revealParam = "reveal"

type sealedReveal struct {
	Expires time.Time       `json:"expires"`
	Data    json.RawMessage `json:"data"`
}

// stashReveal seals v for the page at target (a path) and returns the
// address that shows it once, with fragment appended (like "#tokens").
func (s *Server) stashReveal(r *http.Request, target, fragment string, v any) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("seal a secret for %s: %w", target, err)
	}
	plain, err := json.Marshal(sealedReveal{Expires: s.Now().Add(revealLifetime), Data: data})
	if err != nil {
		return "", fmt.Errorf("seal a secret for %s: %w", target, err)
	}
	key := make([]byte, 32)
	id := make([]byte, 12)
	nonce := make([]byte, 12)
	for _, b := range [][]byte{key, id, nonce} {
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("seal a secret: %w", err)
		}
	}
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	// The target is authenticated data: the key opens the secret on its
	// own page only.
	sealed := aead.Seal(nonce, nonce, plain, []byte(target))
	s.sessions.Put(r.Context(), "reveal."+hex.EncodeToString(id), base64.RawStdEncoding.EncodeToString(sealed))
	q := url.Values{revealParam: {hex.EncodeToString(id) + "." + base64.RawURLEncoding.EncodeToString(key)}}
	return target + "?" + q.Encode() + fragment, nil
}

// takeReveal opens, once, what stashReveal sealed for this page into v. It
// returns false when there is nothing (left) to show.
func (s *Server) takeReveal(r *http.Request, v any) bool {
	token := r.URL.Query().Get(revealParam)
	if token == "" || !sessionLoaded(r.Context()) {
		return false
	}
	idHex, keyText, ok := strings.Cut(token, ".")
	id, err1 := hex.DecodeString(idHex)
	key, err2 := base64.RawURLEncoding.DecodeString(keyText)
	if !ok || err1 != nil || err2 != nil || len(id) != 12 || len(key) != 32 {
		return false
	}
	// Taken only once opened: a key that fails here spends nothing.
	stored := s.sessions.GetString(r.Context(), "reveal."+idHex)
	sealed, err := base64.RawStdEncoding.DecodeString(stored)
	if stored == "" || err != nil || len(sealed) < 12 {
		return false
	}
	aead, err := newAEAD(key)
	if err != nil {
		return false
	}
	plain, err := aead.Open(nil, sealed[:12], sealed[12:], []byte(r.URL.Path))
	if err != nil {
		return false
	}
	s.sessions.Remove(r.Context(), "reveal."+idHex)
	var sr sealedReveal
	if json.Unmarshal(plain, &sr) != nil || s.Now().After(sr.Expires) {
		return false
	}
	return json.Unmarshal(sr.Data, v) == nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal a secret: %w", err)
	}
	return cipher.NewGCM(block)
}
