package cdc

import (
	"strconv"
	"time"
)

// Compact keeps, per table and primary key, only the change with the
// greatest version, in the order the kept changes first appeared. The sink
// then writes each row once per batch, which PostgreSQL requires (ON CONFLICT
// DO UPDATE may not touch a row twice in one statement) and which makes the
// order of statements within a CrateDB bulk irrelevant.
func Compact(changes []Change) []Change {
	index := make(map[string]int, len(changes))
	out := make([]Change, 0, len(changes))
	var key []byte
	for i := range changes {
		c := &changes[i]
		key = rowKey(key[:0], c)
		if j, ok := index[string(key)]; ok {
			if c.Version.Compare(out[j].Version) >= 0 {
				out[j] = *c
			}
			continue
		}
		index[string(key)] = len(out)
		out = append(out, *c)
	}
	return out
}

// Rounds splits changes, in order, into groups in which no row appears
// twice, for callers that must apply every change rather than the newest
// per row (replaying dead letters: each one is done or still failing on its
// own). An upsert statement may not touch a row twice; across rounds the
// version guard keeps the newest state whatever the order.
func Rounds(changes []Change) [][]Change {
	seen := make(map[string]int, len(changes)) // row → rounds it is in so far
	var rounds [][]Change
	var key []byte
	for i := range changes {
		key = rowKey(key[:0], &changes[i])
		r := seen[string(key)]
		seen[string(key)] = r + 1
		if r == len(rounds) {
			rounds = append(rounds, nil)
		}
		rounds[r] = append(rounds[r], changes[i])
	}
	return rounds
}

// rowKey identifies a row: the table and a length-prefixed, type-tagged
// rendering of the key values, so that distinct keys never collide.
func rowKey(b []byte, c *Change) []byte {
	b = append(b, c.Table.Name...)
	b = append(b, 0)
	for _, v := range c.Key {
		var s string
		var tag byte
		switch x := v.(type) {
		case string:
			tag, s = 's', x
		case int64:
			tag, s = 'i', strconv.FormatInt(x, 10)
		case float64:
			tag, s = 'f', strconv.FormatFloat(x, 'g', -1, 64)
		case bool:
			tag, s = 'b', strconv.FormatBool(x)
		case time.Time:
			tag, s = 't', x.UTC().Format(time.RFC3339Nano)
		default:
			tag, s = 'j', string(appendJSONValue(nil, x))
		}
		b = append(b, tag)
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	return b
}
