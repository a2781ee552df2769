package switchboard

import (
	_ "embed"
	"slices"
	"strings"
	"sync"
	"unicode"
)

// commonPasswords holds the passwords that attackers try first and that
// the length rule alone lets through: every entry of at least
// MinPasswordLength characters in the top million of the "10 million
// passwords" list of SecLists (Daniel Miessler, Jason Haddix; the data set
// Mark Burnett published from public breaches), lower-cased, deduplicated
// and sorted in byte order, one a line. Shorter entries would be refused for
// their length anyway; keeping only the long ones makes a list of the top
// million no bigger than one of the top ten thousand, and far more useful.
// It was made with:
//
//	awk 'length($0) >= 12' 10-million-password-list-top-1000000.txt |
//		LC_ALL=C tr A-Z a-z | LC_ALL=C sort -u > commonpasswords.txt
//
//go:embed commonpasswords.txt
var commonPasswordFile string

var commonPasswordList = sync.OnceValue(func() []string {
	return strings.Split(strings.TrimSuffix(commonPasswordFile, "\n"), "\n")
})

// IsCommonPassword reports whether password, in any case, is on the list of
// common and breached passwords.
func IsCommonPassword(password string) bool {
	_, found := slices.BinarySearch(commonPasswordList(), strings.ToLower(password))
	return found
}

// maxRepeatedUnit is the longest group of characters whose repetition makes
// a weak password ("aaaaaaaaaaaa", "abababababab", "abcdabcdabcd").
const maxRepeatedUnit = 4

// weakPassword returns why a password of an acceptable length is still one
// to refuse, or "" when it is not. NIST SP 800-63B asks for exactly this:
// refuse passwords from breach corpora and repetitive or sequential ones,
// and impose no composition rules.
func weakPassword(password string) string {
	r := []rune(password)
	switch {
	case strings.TrimFunc(password, unicode.IsSpace) == "":
		return "Password must not be only spaces."
	case repeatsUnit(r, 1):
		return "Password must not be one character repeated."
	case slices.ContainsFunc([]int{2, 3, maxRepeatedUnit}, func(n int) bool { return repeatsUnit(r, n) }):
		return "Password must not be a few characters repeated over and over."
	case isRun(r):
		return "Password must not be a run of consecutive characters, like abcdefghijkl."
	case IsCommonPassword(password):
		return "This password is too common: it is on a list of passwords that attackers try first. Choose another."
	}
	return ""
}

// repeatsUnit reports whether r is its first n characters over and over.
func repeatsUnit(r []rune, n int) bool {
	if len(r) <= n {
		return false
	}
	for i := n; i < len(r); i++ {
		if r[i] != r[i-n] {
			return false
		}
	}
	return true
}

// isRun reports whether every character of r follows the one before it, or
// every one precedes it ("abcdefghijkl", "987654321...").
func isRun(r []rune) bool {
	if len(r) < 2 {
		return false
	}
	step := r[1] - r[0]
	if step != 1 && step != -1 {
		return false
	}
	for i := 2; i < len(r); i++ {
		if r[i]-r[i-1] != step {
			return false
		}
	}
	return true
}
