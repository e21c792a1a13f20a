package assess

import "testing"

// TestRatingFromPicksItsScore scores one vector whose base, temporal and
// environmental ratings all differ, so a policy that rates from one score
// but reads another shows.
func TestRatingFromPicksItsScore(t *testing.T) {
	// Base 9.8 Critical; E:U/RL:O/RC:U bring the temporal score to 7.8
	// High; the environment's modified impacts bring it to 4.3 Medium.
	in := QIDInput{KBv3Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:U", Severity: 2}
	env := map[string]string{"MC": "L", "MI": "N", "MA": "N"}
	tests := []struct {
		from, want string
	}{
		{RateBase, "Critical"},
		{RateTemporal, "High"},
		{RateEnv, "Medium"},
		{RateSeverity, "Low"}, // severity 2, whatever the vector says
	}
	for _, tt := range tests {
		t.Run(tt.from, func(t *testing.T) {
			p := DefaultPolicy()
			p.RatingFrom = tt.from
			s := ScoreQID(in, p, env)
			if s.Base != 9.8 || s.Temporal != 7.8 || s.Env != 4.3 {
				t.Fatalf("scores = %v/%v/%v, want 9.8/7.8/4.3", s.Base, s.Temporal, s.Env)
			}
			if got := FindingRating(&s, in.Severity); got != tt.want {
				t.Errorf("rating_from %s: rating = %q, want %q", tt.from, got, tt.want)
			}
		})
	}
}
