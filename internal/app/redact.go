package app

import redactpkg "qvt/internal/redact"

// redact removes secrets from what qvt prints, in the places a secret can
// stand (redact.String): a short password must not turn every word equal
// to it into a mark.
func redact(s string, secrets []string) string { return redactpkg.String(s, secrets) }
