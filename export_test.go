package switchboard

// WellFormedJSON and WalkJSON are CheckJSON's two paths, which the tests
// hold to the same answers.
var (
	WellFormedJSON = wellFormedJSON
	WalkJSON       = walkJSON
)
