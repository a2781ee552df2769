package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/switchboardhq/switchboard"
)

// translate maps driver errors onto domain error codes at the storage
// boundary, so that no code above this package knows which engine runs.
// Domain errors pass through unchanged.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var domainErr *switchboard.Error
	if errors.As(err, &domainErr) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return &switchboard.Error{Code: switchboard.ENOTFOUND, Message: "Not found."}
	}
	switch {
	case isUniqueViolation(err):
		return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "It already exists."}
	case isForeignKeyViolation(err):
		return &switchboard.Error{Code: switchboard.ECONFLICT, Message: "It refers to something that does not exist, or is still referred to."}
	}
	return fmt.Errorf("sqlstore: %w", err)
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	var myErr *mysql.MySQLError
	var liteErr *sqlite.Error
	switch {
	case errors.As(err, &pgErr):
		return pgErr.Code == "23505"
	case errors.As(err, &myErr):
		return myErr.Number == 1062
	case errors.As(err, &liteErr):
		return liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	var myErr *mysql.MySQLError
	var liteErr *sqlite.Error
	switch {
	case errors.As(err, &pgErr):
		return pgErr.Code == "23503"
	case errors.As(err, &myErr):
		return myErr.Number == 1451 || myErr.Number == 1452
	case errors.As(err, &liteErr):
		return liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// isRetryable reports whether err is a deadlock or serialization failure,
// after which the whole transaction may simply be run again.
func isRetryable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	var myErr *mysql.MySQLError
	var liteErr *sqlite.Error
	switch {
	case errors.As(err, &pgErr):
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	case errors.As(err, &myErr):
		return myErr.Number == 1213 || myErr.Number == 1205
	case errors.As(err, &liteErr):
		return liteErr.Code()&0xff == sqlite3.SQLITE_BUSY
	}
	return false
}
