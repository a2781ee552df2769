// Package auth owns the primitives of authentication that do not touch the
// database: argon2id password hashing and in-memory throttling of attempts
// per client address.
package auth
