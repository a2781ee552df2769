package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// verify is the receiver's check of a delivery, word for word as the
// README's "Webhooks" section shows it: TestReadmeRecipe fails when the
// two differ, and the delivery tests check real deliveries with it.

// verify reports whether a delivery was signed with the endpoint's secret
// in the last five minutes.
func verify(secret string, header http.Header, body []byte) bool {
	ts := header.Get("Switchboard-Timestamp")
	sent, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sent, 0)).Abs() > 5*time.Minute {
		return false // too old, or a clock far off: maybe a replay
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	want := "v1=" + hex.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Split(header.Get("Switchboard-Signature"), ",") {
		if hmac.Equal([]byte(strings.TrimSpace(sig)), []byte(want)) {
			return true
		}
	}
	return false
}

// TestReadmeRecipe: the README's Go recipe is verify, as tested here.
func TestReadmeRecipe(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(src), "// verify reports")
	if start < 0 {
		t.Fatal("readme_test.go has no verify function")
	}
	recipe := string(src[start:])
	recipe = recipe[:strings.Index(recipe, "\n}\n")+2]
	if !strings.Contains(string(readme), recipe) {
		t.Errorf("README.md does not show the verify function of readme_test.go as it is:\n%s", recipe)
	}
}
