package delivery

import (
	"strings"
	"unicode/utf8"
)

// cleanText makes s storable as text on every backend and at most limit
// bytes long. A receiver's answer is arbitrary bytes, but PostgreSQL text
// rejects NUL and invalid UTF-8, and one row it rejects fails the whole
// result batch: so each invalid byte and each NUL becomes U+FFFD (a reader
// still sees that something was there), and the text is cut before the
// first rune that would pass limit, never inside a UTF-8 sequence.
//
// A caller that reads at most limit bytes should read limit+utf8.UTFMax-1:
// then a sequence cut by its own read limit lies wholly past limit and is
// dropped rather than reported as an invalid byte.
func cleanText(s string, limit int) string {
	if len(s) <= limit && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s // the common case: nothing to copy
	}
	var b strings.Builder
	b.Grow(min(len(s), limit))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		piece := s[i : i+size]
		if r == 0 || (r == utf8.RuneError && size == 1) {
			piece = string(utf8.RuneError)
		}
		if b.Len()+len(piece) > limit {
			break
		}
		b.WriteString(piece)
		i += size
	}
	return b.String()
}
