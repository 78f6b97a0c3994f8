package delivery

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/store"
)

func TestCleanText(t *testing.T) {
	const fffd = "\uFFFD"
	tests := []struct {
		name  string
		in    string
		limit int
		want  string
	}{
		{"empty", "", 8, ""},
		{"ASCII kept", "ok", 8, "ok"},
		{"ASCII cut at the limit", "0123456789", 4, "0123"},
		{"valid non-ASCII kept", "café €5 😀", 64, "café €5 😀"},
		{"a U+FFFD already there is kept", "a" + fffd, 8, "a" + fffd},
		{"NUL replaced", "a\x00b", 8, "a" + fffd + "b"},
		{"only NULs", "\x00\x00", 8, fffd + fffd},
		{"NULs growing past the limit are cut", "\x00\x00\x00", 8, fffd + fffd},
		{"invalid byte replaced", "a\xffb", 8, "a" + fffd + "b"},
		{"lone continuation byte replaced", "\x80", 8, fffd},
		{"overlong encoding replaced byte by byte", "\xc0\xaf", 8, fffd + fffd},
		{"surrogate replaced byte by byte", "\xed\xa0\x80", 16, fffd + fffd + fffd},
		{"sequence truncated at the end of the text replaced", "ab\xe2\x82", 16, "ab" + fffd + fffd},
		{"2-byte rune across the limit dropped", "aé", 2, "a"},
		{"2-byte rune ending at the limit kept", "aé", 3, "aé"},
		{"3-byte rune across the limit dropped", "€€", 5, "€"},
		{"4-byte rune across the limit dropped", "a😀", 4, "a"},
		{"replacement across the limit dropped", "ab\xff", 4, "ab"},
		{"limit 0", "abc", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := cleanText(tc.in, tc.limit)
			if got != tc.want {
				t.Fatalf("cleanText(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
			}
		})
	}
}

// FuzzCleanText: whatever the input, the result is valid UTF-8 without NUL,
// within the limit, and a prefix of the input wherever the input was clean.
func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"", "ok", "a\x00b", "\xff\xfe", "é", strings.Repeat("€", 20), "ab\xe2\x82", "😀"} {
		f.Add(s, 7)
	}
	f.Fuzz(func(t *testing.T, s string, limit int) {
		if limit < 0 || limit > 1<<16 {
			t.Skip()
		}
		got := cleanText(s, limit)
		if !utf8.ValidString(got) || strings.IndexByte(got, 0) >= 0 || len(got) > limit {
			t.Fatalf("cleanText(%q, %d) = %q: invalid, NUL or over the limit", s, limit, got)
		}
		if utf8.ValidString(s) && !strings.Contains(s, "\x00") && !strings.HasPrefix(s, got) {
			t.Fatalf("cleanText(%q, %d) = %q: a clean input must only be cut", s, limit, got)
		}
		if len(s) <= limit && utf8.ValidString(s) && !strings.Contains(s, "\x00") && got != s {
			t.Fatalf("cleanText(%q, %d) = %q: a clean input within the limit must be kept", s, limit, got)
		}
	})
}

// TestSendCleansAnswers: whatever an endpoint answers, the outcome's
// excerpt and error text are valid UTF-8 without NUL, within
// ResponseExcerpt, and a long non-ASCII answer is cut on a rune boundary
// (not replaced at the cut).
func TestSendCleansAnswers(t *testing.T) {
	eAcute := strings.Repeat("é", 3000)   // 6,000 bytes: the 4 KiB cut lands after a whole rune
	euro := strings.Repeat("€", 2000)     // 6,000 bytes: 4096 is inside the 1366th rune
	fourByte := strings.Repeat("😀", 1500) // 6,000 bytes
	tests := []struct {
		name     string
		format   string
		status   int
		body     string
		wantBody string
		wantErr  string // a substring of the error text
	}{
		{"500 with NUL", "", 500, "oops\x00\x00end", "oops\uFFFD\uFFFDend", "500"},
		{"200 with NUL", "", 200, "\x00", "\uFFFD", ""},
		{"500 with invalid UTF-8", "", 500, "bad \xff\xfe here", "bad \uFFFD\uFFFD here", "500"},
		{"200 with invalid UTF-8", "", 200, "\xc3(", "\uFFFD(", ""},
		{"500 with 6,000 bytes of é", "", 500, eAcute, eAcute[:ResponseExcerpt], "500"},
		{"200 with 6,000 bytes of €", "", 200, euro, euro[:ResponseExcerpt/3*3], ""},
		{"200 with 6,000 bytes of 4-byte runes", "", 200, fourByte, fourByte[:ResponseExcerpt], ""},
		{"NI description with NUL", store.FormatNI, 200,
			`{"response":{"status":{"code":"05","description":"no\u0000pe"}}}`, "", "no\uFFFDpe"},
	}
	sender := senderTestOpen()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			out := sender.Send(context.Background(), senderTestTarget(t, srv.URL, store.WebhookConfig{Format: tc.format}), senderTestMessage())
			for what, s := range map[string]string{"response body": out.ResponseBody, "error": out.Error} {
				if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 || len(s) > ResponseExcerpt {
					t.Errorf("%s %q (%d bytes): want valid UTF-8 without NUL within %d bytes", what, trunc(s), len(s), ResponseExcerpt)
				}
			}
			if tc.wantBody != "" && out.ResponseBody != tc.wantBody {
				t.Errorf("response body = %q (%d bytes), want %q (%d bytes)", trunc(out.ResponseBody), len(out.ResponseBody), trunc(tc.wantBody), len(tc.wantBody))
			}
			if !strings.Contains(out.Error, tc.wantErr) {
				t.Errorf("error %q does not contain %q", out.Error, tc.wantErr)
			}
			if out.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", out.StatusCode, tc.status)
			}
		})
	}
}
