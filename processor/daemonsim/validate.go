package daemonsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Action names the daemon sends; the child's status must echo one of them.
const (
	ActionInitialize        = "initialize"
	ActionProcessRecords    = "processRecords"
	ActionLeaseLost         = "leaseLost"
	ActionShardEnded        = "shardEnded"
	ActionShutdownRequested = "shutdownRequested"
)

// lineKind classifies one line of the child's stdout.
type lineKind int

const (
	lineEmpty      lineKind = iota // skipped silently by the daemon
	lineNotJSON                    // skipped by the daemon with an INFO log: a violation for us
	lineStatus                     // a valid status message
	lineCheckpoint                 // a valid checkpoint request
)

// childMessage is a validated protocol message from the child.
type childMessage struct {
	kind        lineKind
	responseFor string
	seq         *string
	subSeq      *int64
}

// allowedFields lists, per child action, exactly the fields it must carry.
// The daemon rejects unknown fields (the line is skipped and the daemon
// hangs), so an extra field is as bad as a missing message.
var allowedFields = map[string][]string{
	"status":     {"action", "responseFor"},
	"checkpoint": {"action", "sequenceNumber", "subSequenceNumber"},
}

// parseChildLine validates one stdout line (without its '\n'). A non-nil
// error is the reason the line breaks the protocol.
func parseChildLine(line []byte) (childMessage, error) {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if len(line) == 0 {
		return childMessage{kind: lineEmpty}, nil
	}
	trimmed := bytes.TrimLeft(line, " \t")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return childMessage{kind: lineNotJSON}, nil
	}
	if i := bytes.IndexByte(line, '\r'); i >= 0 {
		return childMessage{}, errors.New("bare carriage return: Java's readLine splits the line there")
	}
	for _, c := range line {
		if c >= 0x80 {
			return childMessage{}, errors.New("non-ASCII byte: the daemon decodes stdout with the JVM default charset, escape as \\uXXXX")
		}
	}
	fields, err := splitObject(line)
	if err != nil {
		return childMessage{}, err
	}
	return messageFromFields(fields)
}

// splitObject decodes exactly one JSON object with nothing after it and
// returns its members, rejecting duplicate keys.
func splitObject(line []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("malformed JSON object: %w", err)
	}
	fields := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("malformed JSON object: %w", err)
		}
		key, _ := tok.(string)
		if _, dup := fields[key]; dup {
			return nil, fmt.Errorf("duplicate field %q", key)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("malformed JSON object: %w", err)
		}
		fields[key] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("malformed JSON object: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing text after the JSON object")
	}
	return fields, nil
}

func messageFromFields(fields map[string]json.RawMessage) (childMessage, error) {
	a, err := rawString(fields["action"])
	if err != nil || a == nil {
		return childMessage{}, errors.New(`"action" missing or not a string`)
	}
	action := *a
	want, ok := allowedFields[action]
	if !ok {
		return childMessage{}, fmt.Errorf("unknown action %q (the daemon skips it and keeps waiting)", action)
	}
	if err := exactFields(fields, want); err != nil {
		return childMessage{}, fmt.Errorf("%s message: %w", action, err)
	}
	if action == "status" {
		rf, err := rawString(fields["responseFor"])
		if err != nil || rf == nil {
			return childMessage{}, errors.New(`status message: "responseFor" must be a string`)
		}
		return childMessage{kind: lineStatus, responseFor: *rf}, nil
	}
	seq, err := rawString(fields["sequenceNumber"])
	if err != nil {
		return childMessage{}, fmt.Errorf(`checkpoint message: "sequenceNumber" must be a string or null: %w`, err)
	}
	sub, err := rawInt(fields["subSequenceNumber"])
	if err != nil {
		return childMessage{}, fmt.Errorf(`checkpoint message: "subSequenceNumber" must be an integer or null: %w`, err)
	}
	return childMessage{kind: lineCheckpoint, seq: seq, subSeq: sub}, nil
}

func exactFields(fields map[string]json.RawMessage, want []string) error {
	for _, name := range want {
		if _, ok := fields[name]; !ok {
			return fmt.Errorf("missing field %q", name)
		}
	}
	if len(fields) != len(want) {
		for name := range fields {
			if !contains(want, name) {
				return fmt.Errorf("unknown field %q (the daemon skips the line and keeps waiting)", name)
			}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// rawString accepts a JSON string or null. Jackson would coerce a number
// into a string; a child relying on that is fragile, so it is refused.
func rawString(raw json.RawMessage) (*string, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	if len(raw) == 0 || raw[0] != '"' {
		return nil, fmt.Errorf("got %s", raw)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// rawInt accepts a JSON integer that fits a Java long, or null.
func rawInt(raw json.RawMessage) (*int64, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("got %s", raw)
	}
	return &n, nil
}
