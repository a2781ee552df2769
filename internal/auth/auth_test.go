package auth_test

import (
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard/internal/auth"
)

func TestArgon2id(t *testing.T) {
	h := auth.NewArgon2id(2)
	hash, err := h.Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q does not carry the expected parameters", hash)
	}
	other, _ := h.Hash("correct horse battery")
	if other == hash {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for _, tc := range []struct {
		password string
		want     bool
	}{{"correct horse battery", true}, {"correct horse batter", false}, {"", false}} {
		ok, err := h.Verify(hash, tc.password)
		if err != nil || ok != tc.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", tc.password, ok, err, tc.want)
		}
	}
	// Hashes made with other parameters still verify: they are read from the hash.
	weak, _ := auth.HashWith("pw", 64, 1)
	if ok, err := h.Verify(weak, "pw"); !ok || err != nil {
		t.Errorf("Verify of a low-cost hash = %v, %v", ok, err)
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=18$m=1,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=x$c2FsdA$a2V5"} {
		if _, err := h.Verify(bad, "pw"); err == nil {
			t.Errorf("Verify(%q) gave no error", bad)
		}
	}
}
