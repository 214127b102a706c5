package creds

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// profile is one profile of the shared files: the config file's
// [profile NAME] (or [default]) merged with the credentials file's [NAME],
// whose values win, as in the SDKs.
type profile struct {
	name   string
	values map[string]string // lower-case keys
	from   map[string]string // key → the file it came from
	files  []string          // the files read, for messages
	found  bool
}

// sharedFiles names the credentials and config files: the environment's
// AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE, or ~/.aws/credentials
// and ~/.aws/config.
func sharedFiles(getenv func(string) string) (credentials, config string) {
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	credentials, config = getenv("AWS_SHARED_CREDENTIALS_FILE"), getenv("AWS_CONFIG_FILE")
	if credentials == "" {
		credentials = filepath.Join(home, ".aws", "credentials")
	}
	if config == "" {
		config = filepath.Join(home, ".aws", "config")
	}
	return credentials, config
}

// profileName is AWS_PROFILE (or AWS_DEFAULT_PROFILE), else "default";
// explicit says it was chosen, so that a missing one is an error.
func profileName(getenv func(string) string) (name string, explicit bool) {
	for _, key := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE"} {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v, true
		}
	}
	return "default", false
}

// loadProfile reads the chosen profile from both files. Missing files are
// fine (no profile); unreadable ones are not.
func loadProfile(getenv func(string) string) (profile, error) {
	name, explicit := profileName(getenv)
	credFile, configFile := sharedFiles(getenv)
	p := profile{name: name, values: map[string]string{}, from: map[string]string{}}
	// The config file calls it [profile NAME], the default also
	// [default] ([profile default] wins); the credentials file [NAME].
	configSections := []string{"profile " + name}
	if name == "default" {
		configSections = []string{"default", "profile default"}
	}
	for _, f := range []struct {
		path     string
		sections []string
	}{{configFile, configSections}, {credFile, []string{name}}} {
		sections, err := readINI(f.path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return p, err
		}
		p.files = append(p.files, f.path)
		for _, section := range f.sections {
			values, ok := sections[section]
			if !ok {
				continue
			}
			p.found = true
			for k, v := range values {
				p.values[k], p.from[k] = v, f.path
			}
		}
	}
	if explicit && !p.found {
		return p, fmt.Errorf("AWS profile %q (AWS_PROFILE) is in neither %s nor %s", name, credFile, configFile)
	}
	return p, nil
}

// readINI parses the shared files' INI dialect: [section] headers,
// "key = value" lines, full-line comments (# or ;). Indented lines after a
// key with an empty value are sub-settings (e.g. "s3 =") and are skipped.
// Values are not unquoted and keep inline "#": credential_process commands
// may hold both.
func readINI(path string) (map[string]map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sections := map[string]map[string]string{}
	var cur map[string]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[':
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("%s:%d: section header without ]", path, n)
			}
			name := strings.Join(strings.Fields(line[1:len(line)-1]), " ")
			if sections[name] == nil {
				sections[name] = map[string]string{}
			}
			cur = sections[name]
			continue
		case raw[0] == ' ' || raw[0] == '\t':
			continue // a sub-setting or a continuation: nothing this package reads
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want key = value", path, n)
		}
		if cur != nil {
			cur[strings.ToLower(strings.TrimSpace(key))] = strings.TrimSpace(value)
		}
	}
	return sections, sc.Err()
}

// SharedConfigRegion is the region of the chosen profile in the shared
// config file ("" when none), the SDKs' last source of a region.
func SharedConfigRegion(getenv func(string) string) (string, error) {
	p, err := loadProfile(getenv)
	if err != nil {
		return "", err
	}
	return p.values["region"], nil
}

// where names the file a key came from, for messages.
func (p profile) where(key string) string {
	return fmt.Sprintf("profile %q in %s", p.name, p.from[key])
}

// source picks how the profile gives credentials; ok is false when it
// gives none (the chain goes on).
func (p profile) source() (s source, ok bool, err error) {
	v := p.values
	for _, key := range []string{"role_arn", "source_profile", "credential_source"} {
		if v[key] != "" {
			return nil, false, unsupported(p.where(key), key+" (role assumption)")
		}
	}
	switch {
	case v["aws_access_key_id"] != "" || v["aws_secret_access_key"] != "":
		c := Credentials{AccessKeyID: v["aws_access_key_id"], SecretAccessKey: v["aws_secret_access_key"],
			SessionToken: v["aws_session_token"], Source: p.where("aws_access_key_id")}
		if !c.valid() {
			return nil, false, fmt.Errorf("%s: aws_access_key_id and aws_secret_access_key must both be set", p.where("aws_secret_access_key"))
		}
		return static(c), true, nil
	case v["web_identity_token_file"] != "":
		return nil, false, unsupported(p.where("web_identity_token_file"), "web identity (web_identity_token_file)")
	case v["sso_session"] != "":
		return nil, false, unsupported(p.where("sso_session"), "IAM Identity Center (sso_session)")
	case v["sso_start_url"] != "":
		return nil, false, unsupported(p.where("sso_start_url"), "IAM Identity Center (sso_start_url)")
	case v["credential_process"] != "":
		return process{command: v["credential_process"], where: p.where("credential_process")}, true, nil
	}
	return nil, false, nil
}

// unsupported refuses a way of getting credentials this package does not
// implement, and names the way that works instead.
func unsupported(where, what string) error {
	return fmt.Errorf("%s: %s is not supported; use credential_process = aws configure export-credentials --profile NAME --format process, "+
		"or set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN", where, what)
}
