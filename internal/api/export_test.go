package api

import (
	"reflect"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/store"
)

// Hooks for the tests of package api_test; none of this is in the binary.

// OpenAPIDocument builds the document GET /openapi.json serves.
var OpenAPIDocument = openAPIDocument

// Verbs are the custom verbs of POST <pattern>:<verb>, which the router
// serves through the pattern (/webhooks/{id}, /notifications/{id}).
var Verbs = map[string]map[string]bool{"/webhooks/{id}": webhookVerbs, "/notifications/{id}": notificationVerbs}

// OpenAPIResponseTypes maps component schemas of answers to the Go types
// encoded into them: their members must be the documented properties, and
// the members always present (not omitempty) the required ones.
var OpenAPIResponseTypes = map[string]reflect.Type{
	"ErrorDetail":      reflect.TypeFor[apiError](),
	"Webhook":          reflect.TypeFor[webhookJSON](),
	"WebhookConfig":    reflect.TypeFor[configJSON](),
	"WebhookHealth":    reflect.TypeFor[healthJSON](),
	"CustomHeader":     reflect.TypeFor[store.Header](),
	"OAuth2":           reflect.TypeFor[oauth2JSON](),
	"TLS":              reflect.TypeFor[tlsJSON](),
	"Paging":           reflect.TypeFor[pagingOut](),
	"TwoWayPaging":     reflect.TypeFor[twoWayPaging](),
	"Subjects":         reflect.TypeFor[subjectsJSON](),
	"EventSummary":     reflect.TypeFor[eventSummaryJSON](),
	"PortalSession":    reflect.TypeFor[portalJSON](),
	"BulkResent":       reflect.TypeFor[bulkResendJSON](),
	"EventList":        reflect.TypeFor[twoWayListJSON[eventSummaryJSON]](),
	"WebhookList":      reflect.TypeFor[listJSON[webhookJSON]](),
	"NotificationList": reflect.TypeFor[twoWayListJSON[notificationJSON]](),
	"TenantList":       reflect.TypeFor[listJSON[tenantJSON]](),
	"PingResult":       reflect.TypeFor[pingJSON](),
	"SecretRotated":    reflect.TypeFor[rotatedJSON](),
	"Notification":     reflect.TypeFor[notificationJSON](),
	"Attempt":          reflect.TypeFor[attemptJSON](),
	"AttemptHeader":    reflect.TypeFor[headerJSON](),
	"Published":        reflect.TypeFor[publishedJSON](),
	"NotificationRef":  reflect.TypeFor[notificationRefJSON](),
	"Event":            reflect.TypeFor[eventJSON](),
	"EventType":        reflect.TypeFor[catalog.Type](),
	"EventVariant":     reflect.TypeFor[catalog.Variant](),
	"Tenant":           reflect.TypeFor[tenantJSON](),
	"APIKey":           reflect.TypeFor[keyJSON](),
	"Source":           reflect.TypeFor[sourceJSON](),
	"SourceState":      reflect.TypeFor[sourceStateJSON](),
	"SourceList":       reflect.TypeFor[listJSON[sourceJSON]](),
	"SourceReadiness":  reflect.TypeFor[sourceReadyJSON](),
	"RejectedMessage":  reflect.TypeFor[rejectedJSON](),
	"RejectedList":     reflect.TypeFor[listJSON[rejectedJSON]](),
}

// OpenAPIRequestTypes maps component schemas of request bodies to the Go
// types they are decoded into (unknown members are refused, so the
// documented properties must be exactly the type's members).
var OpenAPIRequestTypes = map[string]reflect.Type{
	"WebhookInput":         reflect.TypeFor[webhookInput](),
	"WebhookConfigInput":   reflect.TypeFor[configInput](),
	"OAuth2Input":          reflect.TypeFor[oauth2Input](),
	"TLSInput":             reflect.TypeFor[tlsInput](),
	"CustomHeaderInput":    reflect.TypeFor[headerInput](),
	"SourceCreateRequest":  reflect.TypeFor[sourceInput](),
	"ReplayRequest":        reflect.TypeFor[replayJSON](),
	"PortalSessionRequest": reflect.TypeFor[portalInput](),
	"TestEventRequest":     reflect.TypeFor[testInput](),
	"BulkResendRequest":    reflect.TypeFor[bulkResendInput](),
	"SearchRequest":        reflect.TypeFor[searchInput](),
}
