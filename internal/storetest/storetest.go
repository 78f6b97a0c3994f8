package storetest

import "testing"

// Run runs the whole contract against the stores newStore makes.
func Run(t *testing.T, newStore NewStoreFunc) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, NewStoreFunc)
	}{
		{"Tenants", testTenants},
		{"TenantsPaging", testTenantsPaging},
		{"APIKeys", testAPIKeys},
		{"APIKeyRevocation", testAPIKeyRevocation},
		{"WebhookCRUD", testWebhookCRUD},
		{"WebhooksPaging", testWebhooksPaging},
		{"WebhookIsolation", testWebhookIsolation},
		{"UpdateWebhook", testUpdateWebhook},
		{"UpdateWebhookRace", testUpdateWebhookRace},
		{"WebhookLimit", testWebhookLimit},
		{"DeleteWebhook", testDeleteWebhook},
		{"DeleteWebhookTwice", testDeleteWebhookTwice},
		{"ClientCertificateCounts", testClientCertificateCounts},
		{"PublishFanOut", testPublishFanOut},
		{"PublishBatch", testPublishBatch},
		{"PublishAtomic", testPublishAtomic},
		{"PublishIdempotency", testPublishIdempotency},
		{"IdempotencyPerTenant", testIdempotencyPerTenant},
		{"DueWebhooks", testDueWebhooks},
		{"Claim", testClaim},
		{"ClaimOldestFirst", testClaimOldestFirst},
		{"LeaseExpiry", testLeaseExpiry},
		{"Complete", testComplete},
		{"RetryNotDueEarly", testRetryNotDueEarly},
		{"StaleLease", testStaleLease},
		{"ReleaseLeases", testReleaseLeases},
		{"SearchNotifications", testSearchNotifications},
		{"SearchPaging", testSearchPaging},
		{"SearchPayloads", testSearchPayloads},
		{"SubjectSearch", testSubjectSearch},
		{"SubjectPaging", testSubjectPaging},
		{"RequeueExpired", testRequeueExpired},
		{"PublishTest", testPublishTest},
		{"Resend", testResend},
		{"Retention", testRetention},
		{"CrashWhileLeased", testCrashWhileLeased},
		{"ConcurrentPublishClaim", testConcurrentPublishClaim},
		{"Sessions", testSessions},
		{"SessionExpiry", testSessionExpiry},
		{"PortalLinks", testPortalLinks},
		{"WebhookActivity", testWebhookActivity},
		{"MixedOutcomes", testMixedOutcomes},
		{"AutoDisable", testAutoDisable},
		{"CircuitProbe", testCircuitProbe},
		{"RateBucket", testRateBucket},
		{"WakeTimes", testWakeTimes},
		{"Handoff", testHandoff},
		{"HandoffSubscribers", testHandoffSubscribers},
		{"GroupCommit", testGroupCommit},
		{"DeferredFanout", testDeferredFanout},
		{"DeferredFanoutResumes", testDeferredFanoutResumes},
		{"PoisonResults", testPoisonResults},
		{"WebhookFilter", testWebhookFilter},
		{"PublishFilters", testPublishFilters},
		{"Sources", testSources},
		{"RejectedMessages", testRejectedMessages},
		{"Replay", testReplay},
		{"ReplayIncludeDelivered", testReplayIncludeDelivered},
		{"ReplayBound", testReplayBound},
		{"ReplayDeferred", testReplayDeferred},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
}
