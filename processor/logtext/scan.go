package logtext

import "github.com/rs/zerolog"

// field is one member of an event: its key and value as JSON tokens, quotes
// and escapes included.
type field struct{ key, value []byte }

// event is a zerolog event split into the parts a line puts first and the
// rest, all slices of the JSON text.
type event struct {
	level, shard, message []byte
	pid                   field
	fields                []field // in the order logged
}

// shardField is the field the ingest processor puts on every line of a
// shard's logger.
const shardField = "shard"

// scanEvent splits a flat JSON object as zerolog writes it; ok is false for
// anything else. fields is reused for the event's other fields.
func scanEvent(p []byte, fields []field) (ev event, _ []field, ok bool) {
	i := skipSpace(p, 0)
	if i == len(p) || p[i] != '{' {
		return ev, fields, false
	}
	i = skipSpace(p, i+1)
	if i < len(p) && p[i] == '}' {
		ev.fields = fields
		return ev, fields, skipSpace(p, i+1) == len(p)
	}
	for {
		var key, value []byte
		if key, i, ok = scanString(p, i); !ok {
			return ev, fields, false
		}
		if i = skipSpace(p, i); i == len(p) || p[i] != ':' {
			return ev, fields, false
		}
		if value, i, ok = scanValue(p, skipSpace(p, i+1)); !ok {
			return ev, fields, false
		}
		name := key[1 : len(key)-1]
		switch {
		case ev.level == nil && string(name) == zerolog.LevelFieldName:
			ev.level = value
		case ev.message == nil && string(name) == zerolog.MessageFieldName:
			ev.message = value
		case ev.shard == nil && string(name) == shardField:
			ev.shard = value
		case string(name) == zerolog.TimestampFieldName:
			// the line has its own, finer time (see the package comment)
		case ev.pid.key == nil && string(name) == "pid":
			ev.pid = field{key, value}
		default:
			fields = append(fields, field{key, value})
		}
		if i = skipSpace(p, i); i == len(p) {
			return ev, fields, false
		}
		switch p[i] {
		case ',':
			i = skipSpace(p, i+1)
		case '}':
			ev.fields = fields
			return ev, fields, skipSpace(p, i+1) == len(p)
		default:
			return ev, fields, false
		}
	}
}

func skipSpace(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the string token at p[i] and the index after it.
func scanString(p []byte, i int) ([]byte, int, bool) {
	if i >= len(p) || p[i] != '"' {
		return nil, i, false
	}
	for j := i + 1; j < len(p); j++ {
		switch p[j] {
		case '\\':
			j++
		case '"':
			return p[i : j+1], j + 1, true
		}
	}
	return nil, i, false
}

// scanValue returns the value token at p[i] (an object or array whole) and
// the index after it.
func scanValue(p []byte, i int) ([]byte, int, bool) {
	if i >= len(p) {
		return nil, i, false
	}
	switch p[i] {
	case '"':
		return scanString(p, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(p); j++ {
			switch p[j] {
			case '"':
				_, end, ok := scanString(p, j)
				if !ok {
					return nil, i, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return p[i : j+1], j + 1, true
				}
			}
		}
		return nil, i, false
	}
	j := i
	for j < len(p) && p[j] != ',' && p[j] != '}' && p[j] != ']' && p[j] != ' ' && p[j] != '\t' && p[j] != '\n' && p[j] != '\r' {
		j++
	}
	if j == i {
		return nil, i, false
	}
	return p[i:j], j, true
}
