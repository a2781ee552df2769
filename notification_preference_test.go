package switchboard_test

import (
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
)

func TestQuietHoursUntil(t *testing.T) {
	paris := &switchboard.QuietHours{Start: "22:00", End: "07:00", TimeZone: "Europe/Paris"}
	lunch := &switchboard.QuietHours{Start: "12:00", End: "13:30", TimeZone: "UTC"}
	for _, tc := range []struct {
		q     *switchboard.QuietHours
		at    time.Time
		until time.Time // zero: not quiet
	}{
		{paris, time.Date(2026, 3, 1, 20, 59, 0, 0, time.UTC), time.Time{}},
		{paris, time.Date(2026, 3, 1, 21, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)},
		{paris, time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)},
		{paris, time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC), time.Time{}},
		// Summer time: 07:00 in Paris is 05:00 UTC.
		{paris, time.Date(2026, 7, 1, 23, 0, 0, 0, time.UTC), time.Date(2026, 7, 2, 5, 0, 0, 0, time.UTC)},
		{lunch, time.Date(2026, 3, 1, 12, 10, 0, 0, time.UTC), time.Date(2026, 3, 1, 13, 30, 0, 0, time.UTC)},
		{lunch, time.Date(2026, 3, 1, 13, 30, 0, 0, time.UTC), time.Time{}},
	} {
		until, ok := tc.q.Until(tc.at)
		if ok != !tc.until.IsZero() || !until.Equal(tc.until) {
			t.Errorf("%s-%s %s at %v: until %v, %v; want %v", tc.q.Start, tc.q.End, tc.q.TimeZone, tc.at, until, ok, tc.until)
		}
	}
}
