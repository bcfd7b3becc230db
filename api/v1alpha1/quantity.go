package v1alpha1

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
)

// memoryPattern reads a number (decimal or with a Kubernetes exponent like
// 129e6) and an optional unit; one space may separate them, as Docker allows.
var memoryPattern = regexp.MustCompile(`^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]{1,3}))? ?([A-Za-z]*)$`)

// memoryUnits are the accepted units, lowercased. Docker and compose read
// k, m, g, t and p (with an optional "b") as powers of 1024, and Kubernetes
// reads Ki, Mi, Gi... the same way, so "256M" and "256Mi" are one size.
// Kubernetes' decimal "M" (10^6) and milli "m" are deliberately not
// supported: in a compose-flavoured file 256M has always meant MiB, and a
// user who wants decimal bytes can write 256e6.
var memoryUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1 << 10, "ki": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20, "mi": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "gi": 1 << 30, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1 << 40, "ti": 1 << 40, "tib": 1 << 40,
	"p": 1 << 50, "pb": 1 << 50, "pi": 1 << 50, "pib": 1 << 50,
	"ei": 1 << 60, "eib": 1 << 60,
}

const memoryHint = "use a number with an optional unit like 256M or 256Mi"

// ParseMemory reads a memory size in compose form (256M, 1g, 512k, 1024
// bytes) or Kubernetes form (256Mi, 1Gi, 128974848, 129e6) and returns it in
// bytes, rounding a fractional byte up as Kubernetes does.
func ParseMemory(s string) (int64, error) {
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("%q is negative; %s", s, memoryHint)
	}
	m := memoryPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a memory size; %s", s, memoryHint)
	}
	number, exponent, unit := m[1], m[2], strings.ToLower(m[3])
	factor, ok := memoryUnits[unit]
	if !ok {
		return 0, fmt.Errorf("%q has an unknown unit %q; use b, k, m, g, t or p (powers of 1024, as Docker reads them) or Ki, Mi, Gi, Ti, Pi, Ei", s, m[3])
	}
	if exponent != "" && unit != "" {
		return 0, fmt.Errorf("%q mixes an exponent with a unit; write 129e6 or 129M, not both", s)
	}
	if exponent != "" {
		number += "e" + exponent
	}
	r, ok := new(big.Rat).SetString(number)
	if !ok {
		return 0, fmt.Errorf("%q is not a memory size; %s", s, memoryHint)
	}
	r.Mul(r, new(big.Rat).SetInt64(factor))
	bytes, err := ceilInt64(r)
	if err != nil {
		return 0, fmt.Errorf("%q is too large a memory size", s)
	}
	return bytes, nil
}

var cpusPattern = regexp.MustCompile(`^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(m?)$`)

// ParseCPUs reads a CPU count as Docker's --cpus does ("0.5", "2") and
// returns it in billionths of a CPU (Docker's NanoCPUs). The Kubernetes
// millicore form ("500m") is accepted too.
func ParseCPUs(s string) (int64, error) {
	m := cpusPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a CPU count; use a decimal number of CPUs like \"0.5\" or \"2\"", s)
	}
	r, ok := new(big.Rat).SetString(m[1])
	if !ok {
		return 0, fmt.Errorf("%q is not a CPU count; use a decimal number of CPUs like \"0.5\" or \"2\"", s)
	}
	scale := int64(1e9)
	if m[2] == "m" {
		scale = 1e6
	}
	r.Mul(r, new(big.Rat).SetInt64(scale))
	if !r.IsInt() {
		return 0, fmt.Errorf("%q is too precise; Docker counts CPUs in billionths", s)
	}
	nano, err := ceilInt64(r)
	if err != nil {
		return 0, fmt.Errorf("%q is too many CPUs", s)
	}
	return nano, nil
}

// ceilInt64 rounds a non-negative r up to an int64.
func ceilInt64(r *big.Rat) (int64, error) {
	q, rem := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if rem.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return 0, errors.New("out of range")
	}
	return q.Int64(), nil
}
