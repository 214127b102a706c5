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
