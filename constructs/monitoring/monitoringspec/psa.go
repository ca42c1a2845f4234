package monitoringspec

// The Pinning Service API's alarm (issue 17).
const (
	// RunbookPSARefused: clients of the Pinning Service API are refused.
	RunbookPSARefused = "#psa-clients-are-refused"
	// RunbookPSATokens: rotate the PSA token key, revoke a token.
	RunbookPSATokens = "#rotate-the-psa-token-key--revoke-a-token"

	// PSAAuthFailurePercent of the API distribution's responses answered
	// 401 (over ErrorRateMinimumRequests requests per five minutes) for
	// PSAAuthFailurePeriods periods: a client now and then with a wrong or
	// expired token is normal; a quarter of all answers for a quarter hour
	// is a rotated key or a revoked token still in use by a client that
	// retries, or someone guessing credentials.
	PSAAuthFailurePercent = 25
	PSAAuthFailurePeriods = 3
)
