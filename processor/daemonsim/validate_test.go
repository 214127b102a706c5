package daemonsim

import (
	"strings"
	"testing"
)

func TestParseChildLine(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		kind    lineKind
		errPart string // non-empty: a ProtocolError reason must contain it
		rf      string
		seq     *string
		sub     *int64
	}{
		{name: "empty", line: "", kind: lineEmpty},
		{name: "lone CR", line: "\r", kind: lineEmpty},
		{name: "compact status", line: `{"action":"status","responseFor":"initialize"}`, kind: lineStatus, rf: "initialize"},
		{name: "kclpy status", line: `{"action": "status", "responseFor": "processRecords"}`, kind: lineStatus, rf: "processRecords"},
		{name: "reordered status", line: `{"responseFor":"leaseLost","action":"status"}`, kind: lineStatus, rf: "leaseLost"},
		{name: "CRLF status", line: "{\"action\":\"status\",\"responseFor\":\"shardEnded\"}\r", kind: lineStatus, rf: "shardEnded"},
		{name: "checkpoint nulls", line: `{"action": "checkpoint", "sequenceNumber": null, "subSequenceNumber": null}`, kind: lineCheckpoint},
		{name: "checkpoint values", line: `{"action":"checkpoint","sequenceNumber":"4959","subSequenceNumber":3}`, kind: lineCheckpoint, seq: ptr("4959"), sub: ptr[int64](3)},
		{name: "escaped unicode is ASCII", line: `{"action":"status","responseFor":"\u0069nitialize"}`, kind: lineStatus, rf: "initialize"},
		{name: "plain text", line: "hello world", kind: lineNotJSON},
		{name: "JSON array", line: "[1,2]", kind: lineNotJSON},
		{name: "whitespace only", line: "   ", kind: lineNotJSON},
		{name: "extra field", line: `{"action":"status","responseFor":"initialize","extra":1}`, errPart: `unknown field "extra"`},
		{name: "legacy checkpoint field", line: `{"action":"checkpoint","checkpoint":"123"}`, errPart: "missing field"},
		{name: "checkpoint with error field", line: `{"action":"checkpoint","sequenceNumber":null,"subSequenceNumber":null,"error":null}`, errPart: `unknown field "error"`},
		{name: "status without responseFor", line: `{"action":"status"}`, errPart: `missing field "responseFor"`},
		{name: "responseFor null", line: `{"action":"status","responseFor":null}`, errPart: "must be a string"},
		{name: "checkpoint missing subSequence", line: `{"action":"checkpoint","sequenceNumber":null}`, errPart: `missing field "subSequenceNumber"`},
		{name: "numeric sequence", line: `{"action":"checkpoint","sequenceNumber":123,"subSequenceNumber":null}`, errPart: "must be a string or null"},
		{name: "string sub-sequence", line: `{"action":"checkpoint","sequenceNumber":"1","subSequenceNumber":"4"}`, errPart: "must be an integer"},
		{name: "fractional sub-sequence", line: `{"action":"checkpoint","sequenceNumber":"1","subSequenceNumber":1.5}`, errPart: "must be an integer"},
		{name: "wrong case action", line: `{"action":"Status","responseFor":"initialize"}`, errPart: "unknown action"},
		{name: "no action", line: `{"responseFor":"initialize"}`, errPart: `"action" missing`},
		{name: "numeric action", line: `{"action":1}`, errPart: `"action" missing`},
		{name: "duplicate key", line: `{"action":"status","responseFor":"a","responseFor":"initialize"}`, errPart: "duplicate field"},
		{name: "trailing text", line: `{"action":"status","responseFor":"initialize"} trailing`, errPart: "trailing text"},
		{name: "second object", line: `{"action":"status","responseFor":"initialize"}{"action":"status","responseFor":"initialize"}`, errPart: "trailing text"},
		{name: "non-ASCII", line: `{"action":"status","responseFor":"initialize","x":"ä"}`, errPart: "non-ASCII"},
		{name: "bare CR inside", line: "{\"action\":\"status\",\r\"responseFor\":\"initialize\"}", errPart: "carriage return"},
		{name: "truncated object", line: `{"action":"status","responseFor":"init`, errPart: "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := parseChildLine([]byte(tt.line))
			if tt.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errPart) {
					t.Fatalf("err = %v, want one containing %q", err, tt.errPart)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if msg.kind != tt.kind || msg.responseFor != tt.rf {
				t.Fatalf("got kind %d responseFor %q, want %d %q", msg.kind, msg.responseFor, tt.kind, tt.rf)
			}
			if !equalPtr(msg.seq, tt.seq) || !equalPtr(msg.subSeq, tt.sub) {
				t.Fatalf("got seq %v sub %v, want %v %v", deref(msg.seq), deref(msg.subSeq), deref(tt.seq), deref(tt.sub))
			}
		})
	}
}

func equalPtr[T comparable](a, b *T) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
