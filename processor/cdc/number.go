package cdc

import (
	"math"
	"strconv"
	"strings"
)

// NumberKind is how a decimal number is stored.
//
// The rule (README "Numbers"): a number that is an integer and fits int64
// stays an integer; any other number whose float64 has the same shortest
// decimal form (so nothing is lost by storing the double) becomes a double;
// every other number is Big and is kept as its exact decimal string in the
// aux column, never rounded.
type NumberKind int

const (
	Int NumberKind = iota + 1
	Float
	Big
)

func (k NumberKind) String() string {
	switch k {
	case Int:
		return "int"
	case Float:
		return "float"
	case Big:
		return "big"
	}
	return "invalid"
}

// Number is a classified decimal literal.
type Number struct {
	Kind  NumberKind
	Int   int64
	Float float64
	// Text is the canonical exact decimal: no exponent, no superfluous
	// zeros ("-12.5", "100000000000000000000000"). Set for every kind.
	Text string
}

// decimal is value = (-1)^neg × digits × 10^exp with digits free of leading
// and trailing zeros; zero has empty digits.
type decimal struct {
	neg    bool
	digits string
	exp    int
}

// maxExponent bounds exponents we expand into text; DynamoDB allows
// 10^-130 .. 10^125, anything far beyond is not a sensible number.
const maxExponent = 400

// parseDecimal reads a JSON-style number (optional sign, digits, optional
// fraction and exponent). It accepts a leading '+' and leading zeros, which
// DynamoDB tolerates in N strings.
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		d.neg = s[i] == '-'
		i++
	}
	intStart := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intPart := s[intStart:i]
	fracPart := ""
	if i < len(s) && s[i] == '.' {
		i++
		fracStart := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		fracPart = s[fracStart:i]
	}
	intDigits, fracDigits := len(intPart), len(fracPart)
	if intDigits+fracDigits == 0 {
		return decimal{}, false
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			eneg = s[i] == '-'
			i++
		}
		start := i
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if exp > 100000 {
				return decimal{}, false
			}
			exp = exp*10 + int(s[i]-'0')
		}
		if i == start {
			return decimal{}, false
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(s) {
		return decimal{}, false
	}
	m := intPart
	if fracPart != "" {
		m = intPart + fracPart
	}
	exp -= fracDigits
	m = strings.TrimLeft(m, "0")
	trimmed := strings.TrimRight(m, "0")
	exp += len(m) - len(trimmed)
	d.digits = trimmed
	if d.digits == "" {
		d.neg, d.exp = false, 0
		return d, true
	}
	d.exp = exp
	if d.exp+len(d.digits) > maxExponent || d.exp < -maxExponent {
		return decimal{}, false
	}
	return d, true
}

func (d decimal) integral() bool { return d.exp >= 0 }

// text is the plain decimal form without exponent.
func (d decimal) text() string {
	if d.digits == "" {
		return "0"
	}
	var b strings.Builder
	if d.neg {
		b.WriteByte('-')
	}
	switch {
	case d.exp >= 0:
		b.WriteString(d.digits)
		b.WriteString(strings.Repeat("0", d.exp))
	case -d.exp < len(d.digits):
		point := len(d.digits) + d.exp
		b.WriteString(d.digits[:point])
		b.WriteByte('.')
		b.WriteString(d.digits[point:])
	default:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -d.exp-len(d.digits)))
		b.WriteString(d.digits)
	}
	return b.String()
}

// ParseNumber classifies a decimal literal by the exact-number rule. It
// fails only for text that is not a number at all.
func ParseNumber(s string) (Number, bool) {
	if n, ok := plainInt(s); ok {
		return n, true
	}
	d, ok := parseDecimal(s)
	if !ok {
		return Number{}, false
	}
	n := Number{Text: d.text()}
	if d.integral() && len(d.digits)+d.exp <= 19 {
		if v, err := strconv.ParseInt(n.Text, 10, 64); err == nil {
			n.Kind, n.Int = Int, v
			return n, true
		}
	}
	if f, err := strconv.ParseFloat(n.Text, 64); err == nil && !math.IsInf(f, 0) {
		back, _ := parseDecimal(strconv.FormatFloat(f, 'e', -1, 64))
		if back == d {
			n.Kind, n.Float = Float, f
			return n, true
		}
	}
	n.Kind = Big
	return n, true
}

// plainInt is the fast path for the most common number: an optional minus
// and up to 18 digits without a superfluous leading zero.
func plainInt(s string) (Number, bool) {
	digits := s
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 18 || (digits[0] == '0' && len(digits) > 1) {
		return Number{}, false
	}
	var v int64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return Number{}, false
		}
		v = v*10 + int64(c-'0')
	}
	if len(digits) != len(s) {
		if v == 0 {
			return Number{Kind: Int, Text: "0"}, true
		}
		v = -v
	}
	return Number{Kind: Int, Int: v, Text: s}, true
}

// AppendJSON appends the number as JSON: integers and doubles as numbers,
// Big as a string holding the exact decimal.
func (n Number) AppendJSON(dst []byte) []byte {
	switch n.Kind {
	case Int:
		return strconv.AppendInt(dst, n.Int, 10)
	case Float:
		return strconv.AppendFloat(dst, n.Float, 'g', -1, 64)
	default:
		return strconv.AppendQuote(dst, n.Text)
	}
}
