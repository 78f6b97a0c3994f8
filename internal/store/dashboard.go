package store

import "time"

// Session is a signed-in dashboard user, kept in the database so that every
// replica sees it and sign-out ends it everywhere. The browser holds a
// random session id; the database keeps only its SHA-256 (Hash), so a copy
// of the database cannot be turned into a working cookie. A session carries
// no key material: it names the API key that signed in (KeyID), whose
// stored record gives its rights at every request.
type Session struct {
	Hash  string // hex SHA-256 of the session id
	KeyID string
	// Tenant is the tenant an admin key acts on (Herald-Tenant; "" for the
	// default tenant and for tenant keys).
	Tenant   string
	Created  time.Time
	LastSeen time.Time // idle timeout counts from here
	Expires  time.Time // absolute end, whatever the activity
	// PortalTenant is set for a session opened by a portal link: it acts
	// with client rights on that tenant (an id) alone, whatever the role
	// of KeyID, the key that made the link.
	PortalTenant string
	// ReadOnly refuses every change (a read-only portal link).
	ReadOnly bool
}

// PortalLink is a one-time link into one tenant's dashboard
// (POST /portal-sessions). The browser gets the token; the database keeps
// only its SHA-256 (Hash), and redeeming it deletes it.
type PortalLink struct {
	Hash     string
	KeyID    string // the API key that made it: the session lasts no longer
	TenantID string
	ReadOnly bool
	Created  time.Time
	Expires  time.Time
}

// WebhookActivity is a webhook's recent delivery record, as the dashboard
// shows it.
type WebhookActivity struct {
	// Attempts are the webhook's newest attempts, newest first, whichever
	// notifications they belong to.
	Attempts []Attempt
	// Pending counts the webhook's PENDING notifications, up to the cap the
	// caller gave; PendingCapped says there are at least that many.
	Pending       int
	PendingCapped bool
}
