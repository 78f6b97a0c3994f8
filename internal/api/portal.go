package api

import (
	"net/http"
	"time"

	"github.com/heraldhq/herald/internal/auth"
	"github.com/heraldhq/herald/internal/store"
)

// Portal links (POST /portal-sessions): the platform hands a client a
// short-lived, one-time link that signs a browser into the client's tenant
// in the dashboard, with client (or read-only) rights; the dashboard
// redeems it (web: GET /ui/portal/<token> answers a page whose form POSTs
// the token to /ui/portal, so that a link previewer does not use it up).

// Portal link lifetimes.
const (
	defaultPortalTTL = 10 * time.Minute
	minPortalTTL     = time.Minute
	maxPortalTTL     = 24 * time.Hour
)

// portalPath is where the dashboard redeems a portal token.
const portalPath = "/ui/portal/"

type portalInput struct {
	TTLSeconds *int  `json:"ttl_seconds"`
	ReadOnly   *bool `json:"read_only"`
}

type portalJSON struct {
	URL     string `json:"url"`
	Expires string `json:"expires"`
}

func (s *server) createPortalSession(w http.ResponseWriter, r *http.Request, p principal) error {
	// A dashboard session never makes links: a portal session could
	// otherwise outlive its link, or a read-only one make a writing one.
	if p.Via != "api" {
		return &apiError{Status: http.StatusForbidden, Code: codeForbidden, Message: "portal links are made with an API key, not from the dashboard"}
	}
	var in portalInput
	if err := decode(r, &in, true); err != nil {
		return err
	}
	ttl := defaultPortalTTL
	if in.TTLSeconds != nil {
		ttl = time.Duration(*in.TTLSeconds) * time.Second
		if ttl < minPortalTTL || ttl > maxPortalTTL {
			return invalid("ttl_seconds", "must be between %d and %d", int(minPortalTTL/time.Second), int(maxPortalTTL/time.Second))
		}
	}
	token, hash, err := auth.NewPortalToken()
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	link := store.PortalLink{Hash: hash, KeyID: p.KeyID, TenantID: p.TenantID, ReadOnly: in.ReadOnly != nil && *in.ReadOnly,
		Created: now, Expires: now.Add(ttl)}
	if err := s.Store.CreatePortalLink(r.Context(), link); err != nil {
		return s.storeError(r, err, "portal link")
	}
	writeJSON(w, http.StatusCreated, portalJSON{URL: s.baseURL(r) + portalPath + token, Expires: formatTime(link.Expires)})
	return nil
}

// baseURL is where users reach Herald: the public URL when configured,
// else the scheme and host of the request.
func (s *server) baseURL(r *http.Request) string {
	if u := s.PublicURL; u != nil && u.Host != "" {
		return u.Scheme + "://" + u.Host
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
