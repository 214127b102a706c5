// Package decode turns Kinesis record payloads into the JSON objects that
// the sink stores. A payload that cannot be decoded is an error the caller
// sends to the dead-letter table; it is never dropped.
package decode

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Decoder converts one payload into a JSON object.
type Decoder interface {
	Decode(data []byte) ([]byte, error)
}

// New returns the decoder for a record format: "json" or "raw".
func New(format string) (Decoder, error) {
	switch format {
	case "json", "":
		return JSON{}, nil
	case "raw":
		return Raw{}, nil
	}
	return nil, fmt.Errorf("unknown record format %q", format)
}

// JSON accepts payloads that are JSON documents. Objects pass through
// byte for byte, so numbers keep every digit; any other JSON value is
// wrapped as {"value": ...} because the target column holds objects.
type JSON struct{}

// Errors for payloads that are not JSON.
var (
	ErrEmpty       = errors.New("empty payload")
	ErrInvalidUTF8 = errors.New("payload is not valid UTF-8")
)

func (JSON) Decode(data []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, ErrEmpty
	}
	valid, ascii := validJSON(trimmed)
	if !ascii && !utf8.Valid(trimmed) {
		return nil, ErrInvalidUTF8
	}
	if !valid {
		var v json.RawMessage
		err := json.Unmarshal(trimmed, &v)
		return nil, fmt.Errorf("payload is not JSON: %v", err)
	}
	if trimmed[0] == '{' {
		return trimmed, nil
	}
	out := make([]byte, 0, len(trimmed)+10)
	out = append(out, `{"value":`...)
	out = append(out, trimmed...)
	return append(out, '}'), nil
}

// Raw keeps any payload: UTF-8 text as {"text": "..."}, anything else as
// {"base64": "..."}.
type Raw struct{}

func (Raw) Decode(data []byte) ([]byte, error) {
	if utf8.Valid(data) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(map[string]string{"text": string(data)}); err != nil {
			return nil, err
		}
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
	}
	return fmt.Appendf(nil, `{"base64":%q}`, base64.StdEncoding.EncodeToString(data)), nil
}
