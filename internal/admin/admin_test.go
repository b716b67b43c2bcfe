package admin

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAuthorized(t *testing.T) {
	for _, tc := range []struct {
		header, token string
		want          bool
	}{
		{"Bearer s3cret", "s3cret", true},
		{"Bearer s3cret", "", false},
		{"Bearer ", "", false},
		{"", "", false},
		{"Bearer wrong", "s3cret", false},
		{"bearer s3cret", "s3cret", false},
		{"Basic s3cret", "s3cret", false},
		{"s3cret", "s3cret", false},
		{"Bearer s3cret ", "s3cret", false},
	} {
		if got := Authorized(tc.header, tc.token); got != tc.want {
			t.Errorf("Authorized(%q, %q) = %v; want %v", tc.header, tc.token, got, tc.want)
		}
	}
}
