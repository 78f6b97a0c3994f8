package store

import (
	"errors"
	"regexp"
)

var tenantName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckTenantName says why name cannot name a tenant, or nil: 1 to 64
// letters, digits, '.', '_' or '-', starting with a letter or digit (names
// go in the Herald-Tenant header and in URLs unescaped). The API and the
// command line both hold new tenants to it.
func CheckTenantName(name string) error {
	if name == "" {
		return errors.New("is required")
	}
	if !tenantName.MatchString(name) {
		return errors.New("must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	return nil
}
