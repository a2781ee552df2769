package switchboard

// Page sizes for lists.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 200
)

// Page is one page of a keyset-paginated list. NextCursor is empty on the
// last page; otherwise passing it back returns the items that follow.
type Page[T any] struct {
	Items      []T
	NextCursor string
}

// PageLimit validates a requested page size, defaulting 0 to DefaultPageLimit.
func PageLimit(v *Validation, limit int) int {
	switch {
	case limit == 0:
		return DefaultPageLimit
	case limit < 0 || limit > MaxPageLimit:
		v.Add("limit", "Limit must be between 1 and %d.", MaxPageLimit)
		return DefaultPageLimit
	}
	return limit
}

// ValidSort reports whether sort is one of allowed.
func ValidSort(v *Validation, sort string, allowed []string) {
	for _, a := range allowed {
		if sort == a {
			return
		}
	}
	v.Add("sort", "Sort must be one of %v.", allowed)
}
