package source

import (
	"strings"
	"testing"
)

func TestMaskURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"amqp://guest:guest@127.0.0.1:5672/", "amqp://guest:********@127.0.0.1:5672/"},
		{"amqps://u:p%40ss@rabbit:5671/vh", "amqps://u:********@rabbit:5671/vh"},
		{"amqp://rabbit/", "amqp://rabbit/"},
		{"nats://s3cr3t-token@nats:4222", "nats://********@nats:4222"},
		{"nats://a:b@n1:4222,nats://c:d@n2:4222", "nats://a:********@n1:4222,nats://c:********@n2:4222"},
		{"tls://n1:4222", "tls://n1:4222"},
	} {
		if got := MaskURL(tc.in); got != tc.want {
			t.Errorf("MaskURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// An error quoting the URL it dialled, or its password, shows neither.
func TestScrub(t *testing.T) {
	for _, tc := range []struct{ url, msg string }{
		{"amqp://herald:hunter2-pw@rabbit:5672/", `dial amqp://herald:hunter2-pw@rabbit:5672/: refused`},
		{"amqp://herald:hunter2-pw@rabbit:5672/", `auth failed for password hunter2-pw`},
		{"nats://tok-abc123@nats:4222", `nats: authorization violation for tok-abc123`},
	} {
		got := scrub(tc.msg, tc.url)
		if strings.Contains(got, "hunter2") || strings.Contains(got, "tok-abc123") {
			t.Errorf("scrub(%q) = %q: the secret is still there", tc.msg, got)
		}
	}
}
