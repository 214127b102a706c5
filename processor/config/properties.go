package config

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Properties are the key/value pairs of a java.util.Properties file, the
// format the MultiLangDaemon reads. The daemon ignores keys it does not know,
// so our settings live in the same file.
type Properties map[string]string

// ParseProperties reads the java.util.Properties text format: `key = value`,
// `key: value` or `key value`, comments starting with # or !, backslash line
// continuations and \uXXXX escapes. Like Java it reads ISO-8859-1, so a
// non-ASCII byte stands for the character with that code.
func ParseProperties(r io.Reader) (Properties, error) {
	entries, err := ParsePropertyEntries(r)
	if err != nil {
		return nil, err
	}
	props := make(Properties, len(entries))
	for _, e := range entries {
		props[e.Key] = e.Value // a later line wins, as in Java
	}
	return props, nil
}

// Entry is one key = value of a properties file and the line it starts
// on, so that a message can say which line to change.
type Entry struct {
	Key, Value string
	Line       int
}

// ParsePropertyEntries reads the file as ParseProperties does and returns
// its entries in file order, repeated keys included.
func ParsePropertyEntries(r io.Reader) ([]Entry, error) {
	var entries []Entry
	br := bufio.NewReader(r)
	for lineNo := 1; ; {
		logical, skipped, lines, err := readLogicalLine(br)
		if logical != "" {
			key, value := splitKeyValue(logical)
			k, kerr := unescapeProperty(key)
			v, verr := unescapeProperty(value)
			if kerr != nil || verr != nil {
				return nil, fmt.Errorf("line %d: %v", lineNo+skipped, firstErr(kerr, verr))
			}
			entries = append(entries, Entry{Key: k, Value: v, Line: lineNo + skipped})
		}
		lineNo += lines
		if err == io.EOF {
			return entries, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// readLogicalLine joins continuation lines and drops comments and blank
// lines; it returns the text, how many comment and blank lines came before
// it and how many physical lines it used in all.
func readLogicalLine(br *bufio.Reader) (text string, skipped, lines int, err error) {
	var sb strings.Builder
	for {
		raw, err := br.ReadString('\n')
		if raw == "" && err != nil {
			return sb.String(), skipped, lines, err
		}
		lines++
		line := latin1(strings.TrimRight(raw, "\r\n"))
		trimmed := strings.TrimLeft(line, " \t\f")
		if sb.Len() == 0 && (trimmed == "" || trimmed[0] == '#' || trimmed[0] == '!') {
			skipped++
			if err != nil {
				return "", skipped, lines, err
			}
			continue
		}
		if endsWithContinuation(trimmed) {
			sb.WriteString(trimmed[:len(trimmed)-1])
			if err != nil {
				return sb.String(), skipped, lines, err
			}
			continue
		}
		sb.WriteString(trimmed)
		return sb.String(), skipped, lines, err
	}
}

func latin1(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r >= 0x80 }) {
		return s
	}
	runes := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		runes[i] = rune(s[i])
	}
	return string(runes)
}

// endsWithContinuation reports an odd number of trailing backslashes.
func endsWithContinuation(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitKeyValue splits at the first unescaped '=', ':' or whitespace.
func splitKeyValue(line string) (string, string) {
	i := 0
	for i < len(line) {
		c := line[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			break
		}
		i++
	}
	if i > len(line) {
		i = len(line)
	}
	key, rest := line[:i], line[i:]
	rest = strings.TrimLeft(rest, " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	return key, rest
}

func unescapeProperty(s string) (string, error) {
	if !strings.Contains(s, "\\") {
		return s, nil
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			sb.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 't':
			sb.WriteByte('\t')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 'f':
			sb.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf("malformed \\u escape in %q", s)
			}
			var r rune
			if _, err := fmt.Sscanf(s[i+1:i+5], "%04x", &r); err != nil {
				return "", fmt.Errorf("malformed \\u escape in %q", s)
			}
			sb.WriteRune(r)
			i += 4
		default:
			sb.WriteByte(s[i])
		}
	}
	return sb.String(), nil
}
