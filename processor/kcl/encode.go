package kcl

import (
	"strconv"
	"unicode/utf8"
)

// appendStatus appends the one status line the daemon expects for action.
// The daemon's parser rejects any field beyond these two, so nothing else is
// ever added.
func appendStatus(b []byte, action string) []byte {
	b = append(b, "\n{\"action\":\"status\",\"responseFor\":"...)
	b = appendString(b, action)
	return append(b, "}\n"...)
}

// appendCheckpoint appends a checkpoint request; a nil sequence number asks
// the daemon to checkpoint everything delivered so far (or SHARD_END).
func appendCheckpoint(b []byte, seq *string, subSeq *int64) []byte {
	b = append(b, "\n{\"action\":\"checkpoint\",\"sequenceNumber\":"...)
	if seq == nil {
		b = append(b, "null"...)
	} else {
		b = appendString(b, *seq)
	}
	b = append(b, ",\"subSequenceNumber\":"...)
	if subSeq == nil || seq == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, *subSeq, 10)
	}
	return append(b, "}\n"...)
}

// appendString writes s as an ASCII-only JSON string. The daemon reads its
// pipe in the JVM's default charset, which is not always UTF-8, so every
// non-ASCII character is escaped as \uXXXX (as Python's json.dumps does).
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
			i++
			continue
		case '\n':
			b = append(b, '\\', 'n')
			i++
			continue
		case '\r':
			b = append(b, '\\', 'r')
			i++
			continue
		case '\t':
			b = append(b, '\\', 't')
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r >= 0x10000 {
			r -= 0x10000
			hi, lo := 0xd800+(r>>10), 0xdc00+(r&0x3ff)
			b = append(b, '\\', 'u', hexDigits[hi>>12&0xf], hexDigits[hi>>8&0xf], hexDigits[hi>>4&0xf], hexDigits[hi&0xf])
			r = lo
		}
		b = append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
	}
	return append(b, '"')
}
