package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serve refuses a --proxy-url (or HERALD_PROXY_URL) that is not an HTTP
// CONNECT proxy's, before it creates anything, without repeating the URL
// and its password.
func TestServeRefusesBadProxyURL(t *testing.T) {
	const password = "pr0xy-s3cret-cli-3e1d"
	for _, tc := range []struct{ name, flag, env string }{
		{"https scheme", "https://u:" + password + "@proxy.internal:3128", ""},
		{"no scheme", "u:" + password + "@proxy.internal:3128", ""},
		{"from the environment", "", "socks5://u:" + password + "@proxy.internal:1080"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			args := []string{"serve", "--addr", "127.0.0.1:0", "--data", dir}
			if tc.flag != "" {
				args = append(args, "--proxy-url", tc.flag)
			}
			if tc.env != "" {
				t.Setenv("HERALD_PROXY_URL", tc.env)
			}
			_, errOut, code := runBounded(t, args...)
			if code == 0 || !strings.Contains(errOut, "--proxy-url") || strings.Contains(errOut, password) {
				t.Fatalf("code %d, stderr %q; want a refusal naming --proxy-url without the password", code, errOut)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Fatalf("the data directory was created: %v", err)
			}
		})
	}
}
