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
