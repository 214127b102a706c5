package shape

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// textInfo describes a JSON string literal (quotes included).
type textInfo struct {
	bytes int  // UTF-8 length once unescaped
	nul   bool // contains \u0000
	lone  bool // contains a \u escape of a surrogate without its pair
}

// inspect reads a string literal without building it.
func inspect(raw []byte) textInfo {
	body := raw[1 : len(raw)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		return textInfo{bytes: len(body)}
	}
	var t textInfo
	for i := 0; i < len(body); {
		if body[i] != '\\' {
			t.bytes++
			i++
			continue
		}
		if body[i+1] != 'u' {
			t.bytes++
			i += 2
			continue
		}
		r := hex4(body[i+2 : i+6])
		i += 6
		switch {
		case r == 0:
			t.nul = true
			t.bytes++
		case utf16.IsSurrogate(r):
			if r < 0xDC00 && i+6 <= len(body) && body[i] == '\\' && body[i+1] == 'u' {
				if lo := hex4(body[i+2 : i+6]); lo >= 0xDC00 && lo <= 0xDFFF {
					t.bytes += 4
					i += 6
					continue
				}
			}
			t.lone = true
			t.bytes += 3
		default:
			t.bytes += utf8.RuneLen(r)
		}
	}
	return t
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		}
	}
	return r
}

// decodeString unescapes a string literal; lone surrogates become U+FFFD.
// Without escapes the result shares raw's memory: it must not outlive the
// document (Columns clones the keys it keeps).
func decodeString(raw []byte) string {
	body := raw[1 : len(raw)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		if len(body) == 0 {
			return ""
		}
		return unsafe.String(&body[0], len(body))
	}
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); {
		c := body[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch body[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(body[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) && i+6 <= len(body) && body[i] == '\\' && body[i+1] == 'u' {
				if pair := utf16.DecodeRune(r, hex4(body[i+2:i+6])); pair != utf8.RuneError {
					r = pair
					i += 6
				}
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // \" \\ \/
			out = append(out, body[i+1])
		}
		i += 2
	}
	return string(out)
}

// appendQuoted appends text as a JSON string literal. text is valid JSON,
// hence valid UTF-8: only quotes, backslashes and control bytes need escapes.
func appendQuoted(dst, text []byte) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range text {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
