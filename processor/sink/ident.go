package sink

import (
	"fmt"
	"strings"
)

// tableName is a schema-qualified table name, already unquoted and
// case-folded the way the database would fold it.
type tableName struct {
	schema string
	name   string
}

// parseTableName splits "schema.table" (either part may be double-quoted) and
// fills in defaultSchema when no schema is given. Unquoted parts are folded to
// lower case because both databases do that for unquoted identifiers; quoting
// every identifier we emit must not change which table is meant.
func parseTableName(s, defaultSchema string) (tableName, error) {
	parts, err := splitIdent(strings.TrimSpace(s))
	if err != nil {
		return tableName{}, fmt.Errorf("table name %q: %w", s, err)
	}
	switch len(parts) {
	case 1:
		return tableName{schema: defaultSchema, name: parts[0]}, nil
	case 2:
		return tableName{schema: parts[0], name: parts[1]}, nil
	default:
		return tableName{}, fmt.Errorf("table name %q: want [schema.]table", s)
	}
}

// splitIdent splits a dotted identifier, honouring double quotes ("" inside
// quotes is a literal quote).
func splitIdent(s string) ([]string, error) {
	var parts []string
	var cur strings.Builder
	quoted, inQuotes, sawAny := false, false, false
	flush := func() error {
		if !sawAny {
			return fmt.Errorf("empty identifier")
		}
		p := cur.String()
		if !quoted {
			p = strings.ToLower(strings.TrimSpace(p))
			if p == "" {
				return fmt.Errorf("empty identifier")
			}
		}
		parts = append(parts, p)
		cur.Reset()
		quoted, sawAny = false, false
		return nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuotes && c == '"' && i+1 < len(s) && s[i+1] == '"':
			cur.WriteByte('"')
			i++
		case inQuotes && c == '"':
			inQuotes = false
		case inQuotes:
			cur.WriteByte(c)
		case c == '"':
			if sawAny {
				return nil, fmt.Errorf("quote inside identifier")
			}
			inQuotes, quoted, sawAny = true, true, true
		case c == '.':
			if err := flush(); err != nil {
				return nil, err
			}
		default:
			if quoted {
				return nil, fmt.Errorf("text after closing quote")
			}
			cur.WriteByte(c)
			sawAny = true
		}
	}
	if inQuotes {
		return nil, fmt.Errorf("unterminated quote")
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return parts, nil
}

// quoteIdent returns s as a double-quoted SQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// sql returns the quoted, qualified name for use in statements.
func (t tableName) sql() string {
	return quoteIdent(t.schema) + "." + quoteIdent(t.name)
}

// withSuffix returns a sibling table in the same schema.
func (t tableName) withSuffix(suffix string) tableName {
	return tableName{schema: t.schema, name: t.name + suffix}
}

func (t tableName) String() string { return t.sql() }

// maxPostgresIdent is PostgreSQL's identifier length in bytes (NAMEDATALEN-1).
const maxPostgresIdent = 63

// checkNames asks d whether it keeps every part of names as given.
func checkNames(d dialect, names ...tableName) error {
	for _, n := range names {
		for _, part := range []string{n.schema, n.name} {
			if err := d.checkName(part); err != nil {
				return err
			}
		}
	}
	return nil
}
