package shape

import (
	"math"
	"strconv"
	"strings"
)

// number is a JSON number token as a database would read it: a token with
// a fraction or exponent is read as a double, any other as an integer.
type number struct {
	floatToken bool
	isInt      bool    // the value is an integer that fits int64
	i          int64   // when isInt
	exactFloat bool    // the token's value is a double's shortest decimal form
	f          float64 // when exactFloat
}

func readNumber(raw []byte) number {
	s := string(raw)
	n := number{floatToken: strings.ContainsAny(s, ".eE")}
	if !n.floatToken {
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			n.isInt, n.i, n.f = true, v, float64(v)
			// Below 2^53 every integer is a double whose shortest form is
			// itself; above, only some are.
			n.exactFloat = (v > -(1<<53) && v < 1<<53) || sameDecimal(s, n.f)
		}
		return n
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return n
	}
	if sameDecimal(s, f) {
		n.exactFloat, n.f = true, f
		if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
			n.isInt, n.i = true, int64(f)
		}
	}
	return n
}

// sameDecimal reports whether f's shortest decimal form has the value of
// the token s, so that storing the double loses nothing.
func sameDecimal(s string, f float64) bool {
	d, ok := canonical(s)
	if !ok {
		return false
	}
	e, ok := canonical(strconv.FormatFloat(f, 'e', -1, 64))
	return ok && e == d
}

// fitsInt reports whether the integer fits a signed integer of bits bits.
func (n number) fitsInt(bits int) bool {
	if !n.isInt {
		return false
	}
	lim := int64(1) << (bits - 1)
	return bits == 64 || (n.i >= -lim && n.i < lim)
}

// fitsFloat32 reports whether a real column keeps the value exactly.
func (n number) fitsFloat32() bool {
	if !n.exactFloat {
		return false
	}
	f32 := float32(n.f)
	if float64(f32) != n.f && !math.IsInf(float64(f32), 0) {
		// Not the same double, but maybe the same shortest decimal.
		d1, _ := canonical(strconv.FormatFloat(float64(f32), 'e', -1, 32))
		d2, _ := canonical(strconv.FormatFloat(n.f, 'e', -1, 64))
		return d1 == d2
	}
	return !math.IsInf(float64(f32), 0)
}

// decimalForm is a number as digits × 10^exp without leading or trailing
// zeros, so that equal values compare equal.
type decimalForm struct {
	neg    bool
	digits string
	exp    int
}

// canonical reads a decimal token; tokens with huge exponents are refused.
func canonical(s string) (decimalForm, bool) {
	var d decimalForm
	if strings.HasPrefix(s, "-") {
		d.neg, s = true, s[1:]
	} else {
		s = strings.TrimPrefix(s, "+")
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > 100000 || e < -100000 {
			return d, false
		}
		mant, exp = s[:i], e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	exp -= len(frac)
	digits = strings.TrimLeft(digits, "0")
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed)
	if trimmed == "" {
		return decimalForm{}, true
	}
	d.digits, d.exp = trimmed, exp
	return d, true
}
