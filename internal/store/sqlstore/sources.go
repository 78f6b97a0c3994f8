package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// This file keeps the broker sources (store.Source) and the messages they
// rejected. A source's URL may carry the broker's credentials, so it is
// sealed like a webhook's secrets, bound to "source:<id>" so that a sealed
// URL copied onto another row does not open.

const sourceColumns = `id, tenant_id, type, url, queue, stream, subject, durable, status, rejected, created_at, modified_at`

func sourceAAD(id string) []byte { return []byte("source:" + id) }

// sealURL seals a source's URL (as it is without a Sealer).
func (s *Store) sealURL(src store.Source) string {
	if s.seal == nil {
		return src.URL
	}
	return s.seal.Seal([]byte(src.URL), sourceAAD(src.ID))
}

// CreateSource stores a new source of an existing tenant.
func (s *Store) CreateSource(ctx context.Context, src store.Source) error {
	sealed := s.sealURL(src)
	return s.write(ctx, func(tx *tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO sources (`+sourceColumns+`)
			SELECT ?, id, ?, ?, ?, ?, ?, ?, ?, 0, ?, ? FROM tenants WHERE id = ?`,
			src.ID, src.Type, sealed, src.Queue, src.Stream, src.Subject, src.Durable, src.Status,
			ms(src.Created), ms(src.Modified), src.TenantID)
		if s.d.IsUnique(err) {
			return fmt.Errorf("create source: %w", store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("create source: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("tenant %q: %w", src.TenantID, store.ErrNotFound)
		}
		return nil
	})
}

// Source returns one source.
func (s *Store) Source(ctx context.Context, id string) (store.Source, error) {
	return s.getSource(ctx, s.r, id, "")
}

func (s *Store) getSource(ctx context.Context, q queryer, id, lock string) (store.Source, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+sourceColumns+` FROM sources WHERE id = ?`+lock, id)
	if err != nil {
		return store.Source{}, fmt.Errorf("get source: %w", err)
	}
	out, err := s.scanSources(rows)
	if err != nil {
		return store.Source{}, err
	}
	if len(out) == 0 {
		return store.Source{}, fmt.Errorf("source %q: %w", id, store.ErrNotFound)
	}
	return out[0], nil
}

// Sources lists every source, of every tenant, in creation order.
func (s *Store) Sources(ctx context.Context, p store.Page) ([]store.Source, store.Paging, error) {
	limit := pageLimit(p)
	rows, err := s.r.QueryContext(ctx, `SELECT `+sourceColumns+` FROM sources WHERE id > ? ORDER BY id LIMIT ?`, p.After, limit+1)
	if err != nil {
		return nil, store.Paging{}, fmt.Errorf("list sources: %w", err)
	}
	out, err := s.scanSources(rows)
	if err != nil {
		return nil, store.Paging{}, err
	}
	out, paging := trim(out, limit, func(src store.Source) string { return src.ID })
	return out, paging, nil
}

// ActiveSources lists the sources to consume: every ACTIVE one. Replicas
// read it periodically, so it stays one small query.
func (s *Store) ActiveSources(ctx context.Context) ([]store.Source, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+sourceColumns+` FROM sources WHERE status = ? ORDER BY id`, store.SourceActive)
	if err != nil {
		return nil, fmt.Errorf("list active sources: %w", err)
	}
	return s.scanSources(rows)
}

// SetSourceStatus pauses or resumes a source.
func (s *Store) SetSourceStatus(ctx context.Context, id, status string, now time.Time) (store.Source, error) {
	var out store.Source
	err := s.write(ctx, func(tx *tx) error {
		src, err := s.getSource(ctx, tx, id, s.d.ForUpdate)
		if err != nil {
			return err
		}
		if src.Status == status {
			out = src
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sources SET status = ?, modified_at = ? WHERE id = ?`, status, ms(now), id); err != nil {
			return fmt.Errorf("set source status: %w", err)
		}
		src.Status, src.Modified = status, now
		out = src
		return nil
	})
	return out, err
}

// DeleteSource removes a source and the messages it rejected.
func (s *Store) DeleteSource(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sources WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete source: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("source %q: %w", id, store.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM source_rejected WHERE source_id = ?`, id); err != nil {
			return fmt.Errorf("delete rejected messages: %w", err)
		}
		return nil
	})
}

// RecordRejected stores messages refused by their sources in one
// transaction, counts them on their source, and keeps only the newest keep
// of each source. Messages of a source deleted meanwhile are dropped with
// it.
func (s *Store) RecordRejected(ctx context.Context, msgs []store.RejectedMessage, keep int) error {
	if len(msgs) == 0 {
		return nil
	}
	return s.write(ctx, func(tx *tx) error {
		bySource := map[string]int64{}
		for _, m := range msgs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO source_rejected (id, source_id, message_id, error, field, payload, size, received_at)
				SELECT ?, id, ?, ?, ?, ?, ?, ? FROM sources WHERE id = ?`,
				m.ID, cleanText(m.MessageID), cleanText(m.Error), cleanText(m.Field), cleanText(m.Payload), m.Size, ms(m.Received), m.SourceID); err != nil {
				return fmt.Errorf("record rejected message: %w", err)
			}
			bySource[m.SourceID]++
		}
		for id, n := range bySource {
			if _, err := tx.ExecContext(ctx, `UPDATE sources SET rejected = rejected + ? WHERE id = ?`, n, id); err != nil {
				return fmt.Errorf("count rejected messages: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM source_rejected WHERE source_id = ? AND id NOT IN
				(SELECT id FROM source_rejected WHERE source_id = ? ORDER BY id DESC LIMIT ?)`, id, id, keep); err != nil {
				return fmt.Errorf("trim rejected messages: %w", err)
			}
		}
		return nil
	})
}

// RejectedMessages lists a source's rejected messages, newest first.
func (s *Store) RejectedMessages(ctx context.Context, sourceID string, p store.Page) ([]store.RejectedMessage, store.Paging, error) {
	if _, err := s.Source(ctx, sourceID); err != nil {
		return nil, store.Paging{}, err
	}
	limit := pageLimit(p)
	q := `SELECT id, source_id, message_id, error, field, payload, size, received_at FROM source_rejected WHERE source_id = ?`
	args := []any{sourceID}
	if p.After != "" {
		q += ` AND id < ?`
		args = append(args, p.After)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY id DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, store.Paging{}, fmt.Errorf("list rejected messages: %w", err)
	}
	defer rows.Close()
	var out []store.RejectedMessage
	for rows.Next() {
		var m store.RejectedMessage
		var received int64
		if err := rows.Scan(&m.ID, &m.SourceID, &m.MessageID, &m.Error, &m.Field, &m.Payload, &m.Size, &received); err != nil {
			return nil, store.Paging{}, fmt.Errorf("scan rejected message: %w", err)
		}
		m.Received = fromMS(received)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, store.Paging{}, fmt.Errorf("list rejected messages: %w", err)
	}
	out, paging := trim(out, limit, func(m store.RejectedMessage) string { return m.ID })
	return out, paging, nil
}

// ResealSources rewrites every source's URL with the Sealer's current key
// (see Reseal) and says how many it rewrote.
func (s *Store) ResealSources(ctx context.Context) (int, error) {
	if s.seal == nil {
		return 0, errors.New("reseal sources: the store has no encryption key")
	}
	n := 0
	err := s.write(ctx, func(tx *tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+sourceColumns+` FROM sources ORDER BY id`+s.d.ForUpdate)
		if err != nil {
			return fmt.Errorf("reseal sources: %w", err)
		}
		all, err := s.scanSources(rows)
		if err != nil {
			return fmt.Errorf("reseal sources: %w", err)
		}
		for _, src := range all {
			if _, err := tx.ExecContext(ctx, `UPDATE sources SET url = ? WHERE id = ?`, s.sealURL(src), src.ID); err != nil {
				return fmt.Errorf("reseal source %s: %w", src.ID, err)
			}
		}
		n = len(all)
		return nil
	})
	return n, err
}

func (s *Store) scanSources(rows *sql.Rows) ([]store.Source, error) {
	defer rows.Close()
	var out []store.Source
	for rows.Next() {
		var src store.Source
		var sealed string
		var created, modified int64
		if err := rows.Scan(&src.ID, &src.TenantID, &src.Type, &sealed, &src.Queue, &src.Stream, &src.Subject, &src.Durable,
			&src.Status, &src.Rejected, &created, &modified); err != nil {
			return nil, fmt.Errorf("scan source: %w", err)
		}
		url := []byte(sealed)
		if s.seal != nil {
			plain, err := s.seal.Open(sealed, sourceAAD(src.ID))
			if err != nil {
				return nil, fmt.Errorf("decrypt the URL of source %s: %w", src.ID, err)
			}
			url = plain
		}
		src.URL = string(url)
		src.Created, src.Modified = fromMS(created), fromMS(modified)
		out = append(out, src)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scan sources: %w", err)
	}
	return out, nil
}
