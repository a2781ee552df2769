// Package auth owns the primitives of authentication that do not touch the
// database: argon2id password hashing. Throttling lives in the database
// (sqlstore), so that every instance counts the same attempts.
package auth
