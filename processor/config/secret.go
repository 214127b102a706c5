package config

import (
	"net/url"
	"regexp"
	"strings"
)

// Redact hides the password of a database URL (URL or key=value form) so
// that it can be printed.
func Redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" && u.Host != "" {
		return u.Redacted()
	}
	return passwordField.ReplaceAllString(dsn, "${1}xxxxx")
}

var passwordField = regexp.MustCompile(`(?i)(password\s*=\s*)('[^']*'|\S+)`)

// HidePassword replaces the password of the database URL dsn wherever it
// appears in text (an error message, say), as given and URL-escaped, and
// then the URL itself by its redacted form: what a command prints about
// the database never carries the secret.
func HidePassword(text, dsn string) string {
	var password string
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" && u.Host != "" {
		password, _ = u.User.Password()
	} else if m := passwordField.FindStringSubmatch(dsn); m != nil {
		password = strings.Trim(m[2], "'")
	}
	text = strings.ReplaceAll(text, dsn, Redact(dsn))
	if password == "" {
		return text
	}
	for _, p := range []string{password, url.QueryEscape(password), url.PathEscape(password)} {
		text = strings.ReplaceAll(text, p, "xxxxx")
	}
	return text
}
