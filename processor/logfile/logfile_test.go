package logfile

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	l := &File{Path: path, MaxBytes: 100, Backups: 2}
	defer l.Close()
	line := strings.Repeat("x", 59) + "\n"
	for i := 0; i < 8; i++ {
		if _, err := l.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		l.lastCheck = time.Time{} // look at the file on every write
	}
	for _, name := range []string{path, path + ".1", path + ".2"} {
		if _, err := os.Stat(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("more backups than configured: %v", err)
	}
}

// TestProcessesShareTheFile runs several processes writing to one file with
// rotation and checks that no line is torn or lost beyond the kept backups.
func TestProcessesShareTheFile(t *testing.T) {
	if os.Getenv("LOGFILE_HELPER") != "" {
		l := &File{Path: os.Getenv("LOGFILE_HELPER"), MaxBytes: 1 << 30}
		for i := 0; i < 2000; i++ {
			fmt.Fprintf(l, "%s %04d %s\n", os.Getenv("LOGFILE_ID"), i, strings.Repeat("y", 100))
		}
		os.Exit(0)
	}
	path := filepath.Join(t.TempDir(), "shared.log")
	var cmds []*exec.Cmd
	for i := 0; i < 4; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=TestProcessesShareTheFile")
		cmd.Env = append(os.Environ(), "LOGFILE_HELPER="+path, fmt.Sprintf("LOGFILE_ID=p%d", i))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	count := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 || len(fields[2]) != 100 {
			t.Fatalf("torn line %q", sc.Text())
		}
		count[fields[0]]++
	}
	for i := 0; i < 4; i++ {
		if n := count[fmt.Sprintf("p%d", i)]; n != 2000 {
			t.Errorf("process %d: %d lines, want 2000", i, n)
		}
	}
}

// TestFileModes checks the permissions of every file the log creates: the
// log, its successors after rotations and the lock file, whatever the umask
// narrows (the test does not change the process umask, which is global).
func TestFileModes(t *testing.T) {
	tests := []struct {
		name     string
		existing os.FileMode // 0: no file before the first write
		writes   int         // 60-byte lines; a rotation every 2 with MaxBytes 100
		want     map[string]os.FileMode
	}{
		{"new file", 0, 1, map[string]os.FileMode{"": mode}},
		{"after rotations", 0, 6, map[string]os.FileMode{"": mode, ".1": mode, ".2": mode, ".lock": mode}},
		{"an existing file keeps its mode, its successor gets ours", 0o600, 3, map[string]os.FileMode{"": mode, ".1": 0o600, ".lock": mode}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.log")
			if tt.existing != 0 {
				if err := os.WriteFile(path, nil, tt.existing); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tt.existing); err != nil { // past the umask
					t.Fatal(err)
				}
			}
			l := &File{Path: path, MaxBytes: 100, Backups: 2}
			defer l.Close()
			for i := 0; i < tt.writes; i++ {
				if _, err := l.Write([]byte(strings.Repeat("m", 59) + "\n")); err != nil {
					t.Fatal(err)
				}
				l.lastCheck = time.Time{}
			}
			for suffix, want := range tt.want {
				info, err := os.Stat(path + suffix)
				if err != nil {
					t.Fatal(err)
				}
				got := info.Mode().Perm()
				// The umask may take bits away, never add any; the owner
				// keeps reading and writing.
				if got&^want != 0 || got&0o600 != 0o600 {
					t.Errorf("%s: mode %v, want %v (or less, by the umask)", filepath.Base(path+suffix), got, want)
				}
				if want == 0o600 && got != 0o600 {
					t.Errorf("%s: mode %v changed from 0600", filepath.Base(path+suffix), got)
				}
			}
		})
	}
}
