package qualys

import (
	"fmt"
	"slices"
	"strings"
)

// platforms maps the Qualys platform (POD) names to their API base URLs:
// table 4.2 of docs/reference/qualys-api.md (qualysdk's platform picker
// and the Qualys Postman collection). A private cloud has its own URL and
// is configured with QUALYS_API_URL instead.
var platforms = map[string]string{
	"US1":  "https://qualysapi.qualys.com",
	"US2":  "https://qualysapi.qg2.apps.qualys.com",
	"US3":  "https://qualysapi.qg3.apps.qualys.com",
	"US4":  "https://qualysapi.qg4.apps.qualys.com",
	"EU1":  "https://qualysapi.qualys.eu",
	"EU2":  "https://qualysapi.qg2.apps.qualys.eu",
	"EU3":  "https://qualysapi.qg3.apps.qualys.it",
	"IN1":  "https://qualysapi.qg1.apps.qualys.in",
	"CA1":  "https://qualysapi.qg1.apps.qualys.ca",
	"AE1":  "https://qualysapi.qg1.apps.qualys.ae",
	"UK1":  "https://qualysapi.qg1.apps.qualys.co.uk",
	"AU1":  "https://qualysapi.qg1.apps.qualys.com.au",
	"KSA1": "https://qualysapi.qg1.apps.qualysksa.com",
}

// Platforms returns the platform names PlatformURL knows, sorted.
func Platforms() []string {
	names := make([]string, 0, len(platforms))
	for n := range platforms {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// PlatformURL returns the API base URL of a Qualys platform given its name
// (US1…US4, EU1…EU3, IN1, CA1, AE1, UK1, AU1, KSA1), case-insensitively and
// ignoring surrounding spaces.
func PlatformURL(name string) (string, error) {
	key := strings.ToUpper(strings.TrimSpace(name))
	if u, ok := platforms[key]; ok {
		return u, nil
	}
	if key == "" {
		return "", fmt.Errorf("qualys: no platform given (one of %s, or set the API URL)", strings.Join(Platforms(), ", "))
	}
	return "", fmt.Errorf("qualys: unknown platform %q (want one of %s, or set the API URL for a private cloud)",
		name, strings.Join(Platforms(), ", "))
}
