// Package names fits derived AWS names (a stack name plus a suffix) into
// the services' length limits.
package names

import (
	"crypto/sha256"
	"encoding/hex"
)

// Fit returns base+suffix when it has at most maxLen characters; otherwise
// base is cut and a digest of the whole base keeps two long bases with one
// prefix apart.
func Fit(base, suffix string, maxLen int) string {
	if len(base)+len(suffix) <= maxLen {
		return base + suffix
	}
	digest := sha256.Sum256([]byte(base))
	tag := "-" + hex.EncodeToString(digest[:4])
	return base[:maxLen-len(tag)-len(suffix)] + tag + suffix
}
