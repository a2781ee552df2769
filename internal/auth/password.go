package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/switchboardhq/switchboard"
)

// Argon2id parameters: OWASP's recommended minimum (19 MiB, two passes, one
// lane), which costs tens of milliseconds per hash on a small server.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
)

// Argon2id hashes passwords as PHC strings:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>. Verify reads the parameters
// from the hash, so that they can be raised later without invalidating
// stored passwords.
//
// Each hash takes 19 MiB while it runs, so a burst of sign-ins could take
// the server's memory: NewArgon2id bounds how many run at once. The zero
// value has no bound.
type Argon2id struct {
	slots chan struct{}
}

var _ switchboard.PasswordHasher = (*Argon2id)(nil)

// NewArgon2id returns a hasher that computes at most concurrency hashes at
// once; the others wait their turn.
func NewArgon2id(concurrency int) *Argon2id {
	return &Argon2id{slots: make(chan struct{}, max(concurrency, 1))}
}

func (h *Argon2id) acquire() func() {
	if h == nil || h.slots == nil {
		return func() {}
	}
	h.slots <- struct{}{}
	return func() { <-h.slots }
}

var b64 = base64.RawStdEncoding

// Hash returns the PHC string of password with a fresh random salt.
func (h *Argon2id) Hash(password string) (string, error) {
	defer h.acquire()()
	return HashWith(password, argonMemoryKiB, argonTime)
}

// HashWith hashes with the given memory (KiB) and passes. Production code uses
// Argon2id.Hash; tests that create many users use small parameters.
func HashWith(password string, memoryKiB, passes uint32) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, passes, memoryKiB, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, memoryKiB, passes, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify checks password against a PHC string made by Hash.
func (h *Argon2id) Verify(hash, password string) (bool, error) {
	p, err := parsePHC(hash)
	if err != nil {
		return false, err
	}
	defer h.acquire()()
	key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

type phc struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

var errBadHash = errors.New("auth: not an argon2id PHC string")

func parsePHC(s string) (phc, error) {
	var p phc
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, fmt.Errorf("%w: version %q", errBadHash, parts[2])
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil {
		return p, fmt.Errorf("%w: parameters %q", errBadHash, parts[3])
	}
	var err error
	if p.salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, fmt.Errorf("%w: salt", errBadHash)
	}
	if p.key, err = b64.DecodeString(parts[5]); err != nil || len(p.key) == 0 {
		return p, fmt.Errorf("%w: key", errBadHash)
	}
	return p, nil
}
