package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// TestStmtCacheBounds: texts are cached, in the order they come, exactly
// until the next would pass maxCachedBytes; later ones run prepared per use,
// while the texts already cached are still served.
func TestStmtCacheBounds(t *testing.T) {
	pool, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	pool.SetMaxOpenConns(1)
	c := &stmtCache{pool: pool}
	defer c.close()
	ctx := context.Background()

	// long returns a distinct statement of about n bytes.
	long := func(i, n int) string {
		return "VALUES (0)" + strings.Repeat(",(1)", n/4) + strings.Repeat(" ", i)
	}
	short := "SELECT 1"
	if st, err := c.prepare(ctx, short); err != nil || st == nil {
		t.Fatalf("short text not cached: %v", err)
	}
	cached, want, size := 0, 0, len(short)
	for i := 0; i < 40; i++ {
		if size += len(long(i, 16<<10)); size <= maxCachedBytes {
			want++
		}
		st, err := c.prepare(ctx, long(i, 16<<10))
		if err != nil {
			t.Fatal(err)
		}
		if st != nil {
			cached++
		}
	}
	if cached != want || want == 0 || want == 40 {
		t.Fatalf("%d of 40 long texts cached, want %d", cached, want)
	}
	if got := c.size.Load(); got > maxCachedBytes {
		t.Fatalf("cache holds %d bytes of text, bound %d", got, maxCachedBytes)
	}
	// A text already cached is still served once the budget is spent.
	if st, err := c.prepare(ctx, short); err != nil || st == nil {
		t.Fatalf("cached short text not served once full: %v", err)
	}
	// adopt keeps to the same bound.
	before := c.n.Load()
	c.adopt(ctx, []string{long(99, 16<<10)})
	if c.n.Load() != before {
		t.Fatal("adopt cached past the byte bound")
	}
}
