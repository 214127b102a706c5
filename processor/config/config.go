// Package config reads the settings of kinesis-cratedb from the daemon's
// properties file, with environment variables overriding it.
//
// Every key of ours starts with "sink."; the daemon ignores them. The
// environment variable for a key is its name in upper snake case:
// sink.databaseUrl → SINK_DATABASE_URL. The database URL has a third
// source, DATABASE_URL, ranked last (see databaseURL).
package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/decode"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/kcl"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/logtext"
	"github.com/rs/zerolog"
)

// Settings is everything the child needs besides what the daemon sends.
type Settings struct {
	DatabaseURL string
	// Warnings are settings that were overridden by another source with a
	// different value (the database URL); the child prints them at start.
	Warnings        []string
	Mode            string // write | discard
	Table           string
	DeadLetterTable string
	ProgressTable   string
	Format          string // json | raw | dynamodb-cdc | dms
	ObjectPolicy    string // dynamic | ignored
	CreateTables    bool

	BatchMaxRecords    int
	BatchMaxBytes      int
	Pipeline           bool
	CheckpointInterval time.Duration
	ProgressInterval   time.Duration

	RetryInitialBackoff time.Duration
	RetryMaxBackoff     time.Duration
	// RetryMaxWait is one deadline per batch (and per action): everything
	// storing it takes, attempts and their timeouts, waits and retries,
	// counts; 0 means no deadline. Derived from the daemon's
	// timeoutInSeconds (3/4 of it) when unset.
	RetryMaxWait time.Duration

	LogFile       string
	LogFormat     string // text (for tail -F) | json (for log shippers); see logtext
	LogLevel      zerolog.Level
	LogMaxSizeMB  int
	LogMaxBackups int

	// DaemonTimeout is the daemon's timeoutInSeconds (0: unset).
	DaemonTimeout time.Duration
	// Region and DynamoDBEndpoint are the daemon's regionName and
	// dynamoDBEndpoint ("" when unset): the backfill reads the source table
	// where the daemon keeps its leases.
	Region           string
	DynamoDBEndpoint string
	ApplicationName  string // the daemon's applicationName: its lease table, which status reads

	// Retention is how long partitions are kept (0: for ever);
	// StreamRetention the stream's own retention, which bounds how late an
	// old change can arrive (the tombstone purge's horizon).
	Retention, StreamRetention time.Duration

	// Decoder decodes the payload of a plain format (json, raw); nil for
	// the change formats. CDC decodes change events when Format is
	// dynamodb-cdc or dms (see cdc.go); nil for the plain formats. Exactly
	// one of them is set.
	Decoder decode.Decoder
	CDC     cdc.Decoder
}

// Modes and formats.
const (
	ModeWrite   = "write"
	ModeDiscard = "discard"
	FormatJSON  = "json"
	FormatRaw   = "raw"
	// FormatDynamoDBCDC and FormatDMS are change-event formats (cdc.go).
	FormatDynamoDBCDC = "dynamodb-cdc"
	FormatDMS         = "dms"
)

// Error is an invalid setting; its message names the key.
type Error struct {
	Key, Value, Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("invalid setting %s = %q: %s", e.Key, e.Value, e.Reason)
}

// Load reads the properties file (if path is not empty), applies the
// environment and checks every value.
func Load(path string, environ []string) (Settings, error) {
	props := Properties{}
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return Settings{}, fmt.Errorf("reading properties: %w", err)
		}
		defer f.Close()
		if props, err = ParseProperties(f); err != nil {
			return Settings{}, fmt.Errorf("reading properties %s: %w", path, err)
		}
	}
	return FromProperties(props, environ)
}

// FromProperties builds Settings from parsed properties and an environment
// in os.Environ form.
func FromProperties(props Properties, environ []string) (Settings, error) {
	r := reader{props: props, env: envMap(environ)}
	s := Settings{
		DatabaseURL:         r.databaseURL(),
		Mode:                r.oneOf("sink.mode", ModeWrite, ModeWrite, ModeDiscard),
		Table:               r.str("sink.table", "kinesis_events"),
		DeadLetterTable:     r.str("sink.deadLetterTable", ""),
		ProgressTable:       r.str("sink.progressTable", ""),
		Format:              r.oneOf("sink.format", FormatJSON, FormatJSON, FormatRaw, FormatDynamoDBCDC, FormatDMS),
		ObjectPolicy:        r.oneOf("sink.objectPolicy", "dynamic", "dynamic", "ignored"),
		CreateTables:        r.boolean("sink.createTables", true),
		BatchMaxRecords:     r.integer("sink.batchMaxRecords", 0, 0, 100000), // 0: the sink's default for the database
		BatchMaxBytes:       r.integer("sink.batchMaxBytes", kcl.DefaultPartBytes, 1<<10, 1<<30),
		Pipeline:            r.boolean("sink.pipeline", true),
		CheckpointInterval:  r.millis("sink.checkpointIntervalMillis", 10*time.Second),
		ProgressInterval:    r.millis("sink.progressIntervalMillis", 10*time.Second),
		RetryInitialBackoff: r.millis("sink.retryInitialBackoffMillis", 200*time.Millisecond),
		RetryMaxBackoff:     r.millis("sink.retryMaxBackoffMillis", 10*time.Second),
		RetryMaxWait:        r.millis("sink.retryMaxWaitMillis", 0),
		LogFile:             r.str("sink.logFile", "record_processor.log"),
		LogFormat:           r.oneOf("sink.logFormat", logtext.FormatText, logtext.FormatText, logtext.FormatJSON),
		LogLevel:            r.level("sink.logLevel", zerolog.InfoLevel),
		LogMaxSizeMB:        r.integer("sink.logMaxSizeMB", 100, 1, 1<<20),
		LogMaxBackups:       r.integer("sink.logMaxBackups", 5, 0, 1000),
		DaemonTimeout:       time.Duration(r.integer("timeoutInSeconds", 0, 0, 1<<30)) * time.Second,
		Region:              r.str("regionName", ""),
		DynamoDBEndpoint:    r.str("dynamoDBEndpoint", ""),
		ApplicationName:     r.str("applicationName", ""),
		Retention:           r.duration("sink.retention", 0),
		StreamRetention:     r.duration("sink.streamRetention", 24*time.Hour),
	}
	s.Warnings = r.warnings
	s.CDC = r.changeDecoder(s.Format, s.Table)
	if s.CDC == nil {
		s.CDC = r.mapped(s.Format, s.Table)
	} else {
		r.unused(append([]string{"sink.columns"}, mappedKeys...), s.Format)
	}
	if s.CDC == nil {
		s.Decoder = r.plainDecoder(s.Format)
	}
	if r.err != nil {
		return Settings{}, r.err
	}
	if err := s.check(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// plainDecoder is the decoder of a plain format.
func (r *reader) plainDecoder(format string) decode.Decoder {
	dec, err := decode.New(format)
	if err != nil {
		r.fail("sink.format", format, err.Error())
	}
	return dec
}

func (s *Settings) check() error {
	if s.Mode == ModeWrite && s.DatabaseURL == "" {
		return &Error{Key: "sink.databaseUrl", Reason: "required (or set SINK_DATABASE_URL / DATABASE_URL, or sink.mode = discard)"}
	}
	if s.RetryMaxBackoff < s.RetryInitialBackoff {
		return &Error{Key: "sink.retryMaxBackoffMillis", Value: strconv.FormatInt(s.RetryMaxBackoff.Milliseconds(), 10),
			Reason: "must not be below sink.retryInitialBackoffMillis"}
	}
	if s.DaemonTimeout > 0 {
		// The daemon halts the whole JVM when a status is late, so a batch
		// must give up waiting for the database well before that.
		budget := s.DaemonTimeout * 3 / 4
		if s.RetryMaxWait == 0 {
			s.RetryMaxWait = budget
		} else if s.RetryMaxWait > budget {
			return &Error{Key: "sink.retryMaxWaitMillis", Value: strconv.FormatInt(s.RetryMaxWait.Milliseconds(), 10),
				Reason: fmt.Sprintf("must stay below 3/4 of the daemon's timeoutInSeconds (%s)", budget)}
		}
	}
	return nil
}

type reader struct {
	props    Properties
	env      map[string]string
	err      error
	warnings []string
}

// databaseURL reads the database URL from its three sources, in this order
// of precedence:
//
//  1. SINK_DATABASE_URL (environment): the explicit override, which wins
//     over the others; any of them that names another database is reported
//     in a warning.
//  2. sink.databaseUrl (properties file).
//  3. DATABASE_URL (environment), only when neither of the above is set: it
//     is a generic name, often set for other programs. When it is set and
//     differs from sink.databaseUrl (and SINK_DATABASE_URL does not decide),
//     the child refuses to start instead of silently picking one.
func (r *reader) databaseURL() string {
	const key, sinkEnv, genericEnv = "sink.databaseUrl", "SINK_DATABASE_URL", "DATABASE_URL"
	get := func(m map[string]string, k string) string { return strings.TrimSpace(m[k]) }
	override, file, generic := get(r.env, sinkEnv), get(r.props, key), get(r.env, genericEnv)
	switch {
	case override != "":
		var ignored []string
		if file != "" && file != override {
			ignored = append(ignored, fmt.Sprintf("%s = %s in the properties file", key, Redact(file)))
		}
		if generic != "" && generic != override {
			ignored = append(ignored, fmt.Sprintf("%s = %s", genericEnv, Redact(generic)))
		}
		if len(ignored) > 0 {
			r.warnings = append(r.warnings, fmt.Sprintf("using %s = %s (environment), which overrides %s",
				sinkEnv, Redact(override), strings.Join(ignored, " and ")))
		}
		return override
	case file != "":
		if generic != "" && generic != file {
			r.err = &Error{Key: key, Value: Redact(file), Reason: fmt.Sprintf(
				"the environment's %s = %s names another database; set %s to the one to use (it overrides both), or remove one of them",
				genericEnv, Redact(generic), sinkEnv)}
		}
		return file
	default:
		return generic
	}
}

// EnvName is the environment variable that overrides a key.
func EnvName(key string) string {
	var sb strings.Builder
	for i, r := range key {
		switch {
		case r == '.':
			sb.WriteByte('_')
		case unicode.IsUpper(r) && i > 0 && key[i-1] != '.':
			sb.WriteByte('_')
			sb.WriteRune(r)
		default:
			sb.WriteRune(unicode.ToUpper(r))
		}
	}
	return sb.String()
}

// raw returns the value of key (environment first), trimmed, and whether
// it was set at all.
func (r *reader) raw(key string, aliases ...string) (string, bool) {
	if !strings.HasPrefix(key, "sink.") {
		v, ok := r.props[key]
		return strings.TrimSpace(v), ok
	}
	if v, ok := r.env[EnvName(key)]; ok {
		return strings.TrimSpace(v), true
	}
	if v, ok := r.props[key]; ok {
		return strings.TrimSpace(v), true
	}
	for _, a := range aliases {
		if v, ok := r.env[a]; ok {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

func (r *reader) fail(key, value, reason string) {
	if r.err == nil {
		r.err = &Error{Key: key, Value: value, Reason: reason}
	}
}

func (r *reader) str(key, def string, aliases ...string) string {
	if v, ok := r.raw(key, aliases...); ok && v != "" {
		return v
	}
	return def
}

func (r *reader) oneOf(key, def string, allowed ...string) string {
	v := strings.ToLower(r.str(key, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(key, v, "must be one of "+strings.Join(allowed, ", "))
	return def
}

func (r *reader) boolean(key string, def bool) bool {
	v, ok := r.raw(key)
	if !ok || v == "" {
		return def
	}
	switch strings.ToLower(v) {
	case "true", "yes", "on", "1":
		return true
	case "false", "no", "off", "0":
		return false
	}
	r.fail(key, v, "must be true or false")
	return def
}

func (r *reader) integer(key string, def, min, max int) int {
	v, ok := r.raw(key)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.fail(key, v, "must be a whole number")
		return def
	}
	if n < min || n > max {
		r.fail(key, v, fmt.Sprintf("must be between %d and %d", min, max))
		return def
	}
	return n
}

func (r *reader) millis(key string, def time.Duration) time.Duration {
	n := r.integer(key, int(def.Milliseconds()), 0, 1<<31-1)
	return time.Duration(n) * time.Millisecond
}

// duration reads a duration such as 90d, 36h or 15m (days are 24 h).
func (r *reader) duration(key string, def time.Duration) time.Duration {
	v, ok := r.raw(key)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	s := strings.TrimSpace(v)
	if days, found := strings.CutSuffix(s, "d"); found {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			r.fail(key, v, "want a positive number of days (90d) or a duration (36h)")
			return def
		}
		return time.Duration(n) * 24 * time.Hour
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		r.fail(key, v, "want a positive number of days (90d) or a duration (36h)")
		return def
	}
	return d
}

func (r *reader) level(key string, def zerolog.Level) zerolog.Level {
	v, ok := r.raw(key)
	if !ok || v == "" {
		return def
	}
	l, err := zerolog.ParseLevel(strings.ToLower(v))
	if err != nil || l == zerolog.NoLevel {
		r.fail(key, v, "must be one of trace, debug, info, warn, error")
		return def
	}
	return l
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// IsInvalid reports whether err is an invalid setting.
func IsInvalid(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
