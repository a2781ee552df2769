// Package smtptest runs a real SMTP server on loopback for tests, which
// keeps every message it accepts and can refuse chosen recipients.
package smtptest

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// Message is one message the server accepted, its parts decoded.
type Message struct {
	From   string
	To     []string
	Header mail.Header
	Text   string // the text/plain part
	HTML   string // the text/html part
}

// Server is an SMTP server on loopback.
type Server struct {
	Addr string
	Host string
	Port int

	mu       sync.Mutex
	messages []Message
	refused  map[string]bool
	held     chan struct{} // closed to let held messages through; nil when not holding
	arrived  chan struct{} // receives once per message that is held
	srv      *smtp.Server
}

// Start starts a server on addr ("127.0.0.1:0" for any free port), closed
// when the test ends.
func Start(tb testing.TB, addr string) *Server {
	tb.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatalf("smtptest: listen on %s: %v", addr, err)
	}
	s := &Server{Addr: l.Addr().String(), refused: map[string]bool{}}
	tcp := l.Addr().(*net.TCPAddr)
	s.Host, s.Port = tcp.IP.String(), tcp.Port
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	s.srv.Domain = "localhost"
	go s.srv.Serve(l) //nolint:errcheck // ends with Close
	tb.Cleanup(func() { s.srv.Close() })
	return s
}

// FreeAddr returns a loopback address on which nothing listens (for now):
// a mail server that is down.
func FreeAddr(tb testing.TB) (string, int) {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String(), l.Addr().(*net.TCPAddr).Port
}

// Refuse makes the server refuse a recipient for good (550).
func (s *Server) Refuse(rcpt string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refused[strings.ToLower(rcpt)] = true
}

// Hold makes the server keep every message it receives waiting, its
// whole text read but not yet answered, until release is called: a mail
// server in the middle of a delivery. arrived receives once for each
// message that waits. A message held is accepted when released, even when
// its client has gone meanwhile, as a real server would deliver it.
func (s *Server) Hold() (arrived <-chan struct{}, release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held, ch := make(chan struct{}), make(chan struct{}, 100)
	s.held, s.arrived = held, ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			s.mu.Lock()
			s.held = nil
			s.mu.Unlock()
			close(held)
		})
	}
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

type session struct {
	s    *Server
	from string
	to   []string
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	refused := ss.s.refused[strings.ToLower(to)]
	ss.s.mu.Unlock()
	if refused {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "cannot parse the message: " + err.Error()}
	}
	m.From, m.To = ss.from, ss.to
	ss.s.mu.Lock()
	held, arrived := ss.s.held, ss.s.arrived
	ss.s.mu.Unlock()
	if held != nil {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-held
	}
	ss.s.mu.Lock()
	ss.s.messages = append(ss.s.messages, m)
	ss.s.mu.Unlock()
	return nil
}

// parse reads a message and its text and HTML parts, quoted-printable
// decoded (multipart.Reader does it).
func parse(raw []byte) (Message, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	m := Message{Header: msg.Header}
	err = m.readPart(msg.Header.Get("Content-Type"), msg.Body)
	return m, err
}

func (m *Message) readPart(contentType string, body io.Reader) error {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return err
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return err
			}
			if err := m.readPart(p.Header.Get("Content-Type"), p); err != nil {
				return err
			}
		}
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	switch mediaType {
	case "text/plain":
		m.Text = string(b)
	case "text/html":
		m.HTML = string(b)
	}
	return nil
}
