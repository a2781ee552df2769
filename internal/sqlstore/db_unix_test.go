//go:build unix

package sqlstore_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// TestSQLiteFilesPrivate: a new SQLite database, and the WAL and shared
// memory files beside it, are readable by their owner only, even under a
// umask that lets everyone read. Not parallel: the umask is the process's.
func TestSQLiteFilesPrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "switchboard.db")
	db, err := sqlstore.Open(t.Context(), "sqlite:"+path, sqlstoretest.FastHasher{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	MustCreateUser(t, db, "admin@example.com", "admin")
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want -rw-------", filepath.Base(p), fi.Mode().Perm())
		}
	}

	// A file that exists keeps the mode its owner chose.
	shared := filepath.Join(t.TempDir(), "shared.db")
	if err := os.WriteFile(shared, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	db2, err := sqlstore.Open(t.Context(), "sqlite:"+shared, sqlstoretest.FastHasher{})
	if err != nil {
		t.Fatal(err)
	}
	db2.Close()
	if fi, err := os.Stat(shared); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("existing file: %v, %v; want its mode kept, -rw-r-----", fi.Mode().Perm(), err)
	}
}
