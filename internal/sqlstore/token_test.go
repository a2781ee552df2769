package sqlstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

func TestTokenService(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewTokenService(db)
		users := sqlstore.NewUserService(db)
		clock := newClock(db)
		ada := MustCreateUser(t, db, "ada@example.com", switchboard.RoleSupervisor)
		bob := MustCreateUser(t, db, "bob@example.com", switchboard.RoleAgent)

		var secret string
		var token *switchboard.APIToken
		t.Run("Create", func(t *testing.T) {
			var err error
			token, secret, err = s.CreateToken(asUser(ada), switchboard.NewToken{UserID: ada.ID, Name: " laptop "})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(secret, switchboard.PersonalTokenPrefix) || len(secret) < 40 {
				t.Errorf("secret %q is too short or lacks its prefix", secret)
			}
			if token.Name != "laptop" || !strings.HasPrefix(secret, token.Prefix) || len(token.Prefix) >= len(secret)/2 {
				t.Errorf("token %+v for secret %q", token, secret)
			}
		})
		t.Run("Authenticate", func(t *testing.T) {
			actor, err := s.Authenticate(t.Context(), secret)
			if err != nil {
				t.Fatal(err)
			}
			if actor.UserID() != ada.ID || actor.TokenID != token.ID {
				t.Errorf("actor = %v token %s", actor, actor.TokenID)
			}
			p, _ := s.FindTokens(asUser(ada), switchboard.TokenFilter{UserID: ada.ID})
			if got := p.Items[0].LastUsedAt; got == nil || !got.Equal(clock.Now()) {
				t.Errorf("LastUsedAt = %v, want %v", got, clock.Now())
			}
		})
		t.Run("ErrUnknownSecret", func(t *testing.T) {
			_, err := s.Authenticate(t.Context(), secret+"x")
			wantCode(t, err, switchboard.EUNAUTHORIZED)
		})
		t.Run("ErrForOthers", func(t *testing.T) {
			_, _, err := s.CreateToken(asUser(bob), switchboard.NewToken{UserID: ada.ID, Name: "sneaky"})
			wantCode(t, err, switchboard.EFORBIDDEN)
			_, err = s.FindTokens(asUser(bob), switchboard.TokenFilter{UserID: ada.ID})
			wantCode(t, err, switchboard.EFORBIDDEN)
			err = s.RevokeToken(asUser(bob), token.ID)
			wantCode(t, err, switchboard.ENOTFOUND)
		})
		t.Run("ErrInvalid", func(t *testing.T) {
			past := clock.Now().Add(-time.Hour)
			_, _, err := s.CreateToken(asUser(ada), switchboard.NewToken{UserID: ada.ID, Name: "", ExpiresAt: &past})
			wantCode(t, err, switchboard.EINVALID)
			if n := len(switchboard.ErrorFields(err)); n != 2 {
				t.Errorf("got %d field errors, want 2", n)
			}
		})
		t.Run("Expiry", func(t *testing.T) {
			in := clock.Now().Add(time.Hour)
			tok, sec, err := s.CreateToken(asUser(ada), switchboard.NewToken{UserID: ada.ID, Name: "short-lived", ExpiresAt: &in})
			if err != nil {
				t.Fatal(err)
			}
			if !tok.ExpiresAt.Equal(in) {
				t.Errorf("ExpiresAt = %v, want %v", tok.ExpiresAt, in)
			}
			if _, err := s.Authenticate(t.Context(), sec); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Hour)
			_, err = s.Authenticate(t.Context(), sec)
			wantCode(t, err, switchboard.EUNAUTHORIZED)
		})
		t.Run("Revoke", func(t *testing.T) {
			if err := s.RevokeToken(asUser(ada), token.ID); err != nil {
				t.Fatal(err)
			}
			if err := s.RevokeToken(asUser(ada), token.ID); err != nil {
				t.Fatalf("second revoke: %v", err)
			}
			_, err := s.Authenticate(t.Context(), secret)
			wantCode(t, err, switchboard.EUNAUTHORIZED)
		})
		t.Run("DisabledUsersTokensFail", func(t *testing.T) {
			_, sec, err := s.CreateToken(asUser(bob), switchboard.NewToken{UserID: bob.ID, Name: "bob's"})
			if err != nil {
				t.Fatal(err)
			}
			disabled := switchboard.UserDisabled
			if _, err := users.UpdateUser(systemCtx(), bob.ID, switchboard.UserUpdate{Status: &disabled}); err != nil {
				t.Fatal(err)
			}
			_, err = s.Authenticate(t.Context(), sec)
			wantCode(t, err, switchboard.EUNAUTHORIZED)
		})
		t.Run("ListNewestFirstInPages", func(t *testing.T) {
			for i := range 5 {
				clock.Advance(time.Second)
				if _, _, err := s.CreateToken(asUser(ada), switchboard.NewToken{UserID: ada.ID, Name: "t" + string(rune('a'+i))}); err != nil {
					t.Fatal(err)
				}
			}
			p, err := s.FindTokens(asUser(ada), switchboard.TokenFilter{UserID: ada.ID, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Items) != 3 || p.Items[0].Name != "te" || p.NextCursor == "" {
				t.Fatalf("first page = %d items, first %q", len(p.Items), p.Items[0].Name)
			}
			p2, err := s.FindTokens(asUser(ada), switchboard.TokenFilter{UserID: ada.ID, Limit: 3, Cursor: p.NextCursor})
			if err != nil {
				t.Fatal(err)
			}
			// 5 new, "laptop" and "short-lived": 7 in all.
			if len(p2.Items) != 3 || p2.NextCursor == "" {
				t.Errorf("second page = %d items, next %q", len(p2.Items), p2.NextCursor)
			}
			if p.Items[0].Status(clock.Now()) != "active" {
				t.Errorf("status = %s", p.Items[0].Status(clock.Now()))
			}
		})
	})
}
