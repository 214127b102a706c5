package testenv

import "testing"

func TestMissingFailsUnderCI(t *testing.T) {
	for _, ci := range []string{"true", ""} {
		t.Setenv("CI", ci)
		ft := &fakeT{}
		func() {
			defer func() { _ = recover() }() // fakeT stops by panicking, like runtime.Goexit would
			Missing(ft, "no widget")
		}()
		if ci == "true" && (!ft.failed || ft.skipped) || ci == "" && (ft.failed || !ft.skipped) {
			t.Errorf("CI=%q: failed %v, skipped %v", ci, ft.failed, ft.skipped)
		}
	}
}

type fakeT struct {
	testing.TB
	failed, skipped bool
}

func (f *fakeT) Helper()          {}
func (f *fakeT) Fatal(...any)     { f.failed = true; panic("stop") }
func (f *fakeT) Skip(args ...any) { f.skipped = true; panic("stop") }
