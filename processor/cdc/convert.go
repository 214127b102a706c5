package cdc

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// convertValue converts a raw JSON value to the Go value of a column type.
// It never rounds: a number that does not fit the type exactly is an error.
func convertValue(raw []byte, t Type) (any, error) {
	if len(raw) == 0 || isNull(raw) {
		return nil, nil
	}
	switch t {
	case Text:
		return textOf(raw)
	case BigInt, Integer:
		n, err := numberOf(raw)
		if err != nil {
			return nil, err
		}
		if n.Kind != Int || (t == Integer && (n.Int < math.MinInt32 || n.Int > math.MaxInt32)) {
			return nil, fmt.Errorf("%s does not fit %s exactly", n.Text, t)
		}
		return n.Int, nil
	case Double:
		n, err := numberOf(raw)
		if err != nil {
			return nil, err
		}
		switch {
		case n.Kind == Float:
			return n.Float, nil
		case n.Kind == Int && n.Int >= -1<<53 && n.Int <= 1<<53:
			return float64(n.Int), nil
		}
		return nil, fmt.Errorf("%s does not fit DOUBLE exactly (configure TEXT to keep every digit)", n.Text)
	case Boolean:
		return boolOf(raw)
	case Timestamp:
		s, err := unquote(raw)
		if err != nil {
			return nil, fmt.Errorf("%.40s is not a timestamp string", raw)
		}
		return parseTime(s)
	case Object:
		return objectOf(raw)
	}
	return nil, fmt.Errorf("unsupported type %s", t)
}

func textOf(raw []byte) (any, error) {
	switch raw[0] {
	case '"':
		return unquote(raw)
	case '{', '[':
		return string(raw), nil
	}
	return string(raw), nil // number or boolean literal, digits kept
}

func numberOf(raw []byte) (Number, error) {
	lit := string(raw)
	if raw[0] == '"' {
		s, err := unquote(raw)
		if err != nil {
			return Number{}, err
		}
		lit = strings.TrimSpace(s)
	}
	n, ok := ParseNumber(lit)
	if !ok {
		return Number{}, fmt.Errorf("%.40s is not a number", raw)
	}
	return n, nil
}

func boolOf(raw []byte) (any, error) {
	s := string(raw)
	if raw[0] == '"' {
		var err error
		if s, err = unquote(raw); err != nil {
			return nil, err
		}
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "t", "1", "yes", "y":
		return true, nil
	case "false", "f", "0", "no", "n":
		return false, nil
	}
	return nil, fmt.Errorf("%.40s is not a boolean", raw)
}

// objectOf accepts a JSON object or array, or a string holding one (DMS
// sends JSON/JSONB source columns as strings).
func objectOf(raw []byte) (any, error) {
	if raw[0] == '"' {
		s, err := unquote(raw)
		if err != nil {
			return nil, err
		}
		raw = []byte(strings.TrimSpace(s))
		if !json.Valid(raw) {
			return nil, errors.New("string does not hold JSON")
		}
	}
	if len(raw) == 0 || (raw[0] != '{' && raw[0] != '[') {
		return nil, fmt.Errorf("%.40s is not a JSON object or array", raw)
	}
	return json.RawMessage(raw), nil
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// parseTime reads the timestamp forms DMS emits; a time without zone is UTC.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp", s)
}
