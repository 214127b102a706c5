// Package logfile is an append-only log file with size-based rotation that
// several processes can share. The daemon starts one child per shard and all
// of them log to the same record_processor.log, so rotation cannot rely on
// one process's own byte count: the file's real size decides, a lock file
// makes one process rotate at a time, and the others notice the new file
// and reopen it.
package logfile

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// File is an io.Writer appending to Path. The zero value is not usable; set
// Path (MaxBytes and Backups are optional).
type File struct {
	Path     string
	MaxBytes int64 // rotate when the file grows past this; 0 means 100 MiB
	Backups  int   // rotated files kept as Path.1 … Path.N; 0 means 5

	mu        sync.Mutex
	f         *os.File
	lastCheck time.Time
}

// checkEvery bounds how often a writer looks at the file on disk.
const checkEvery = time.Second

// mode is the permission of every file this package creates: the log, its
// successor after a rotation and the lock file. Log lines carry database
// names, table names, record coordinates and error texts, which are not for
// every local user; the group may read them (add a log shipper's user to
// it). The process umask can only narrow it. A rotated file keeps the mode
// it had, since rotation renames it; an existing file is never changed.
const mode = 0o640

// Write appends p in one write call, which O_APPEND keeps whole even when
// other processes write at the same time.
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.prepare(); err != nil {
		return 0, err
	}
	return l.f.Write(p)
}

// Close closes the current file.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

func (l *File) prepare() error {
	if l.f == nil {
		return l.open()
	}
	if time.Since(l.lastCheck) < checkEvery {
		return nil
	}
	l.lastCheck = time.Now()
	if l.replaced() {
		l.f.Close()
		l.f = nil
		return l.open()
	}
	if info, err := l.f.Stat(); err == nil && info.Size() >= l.maxBytes() {
		return l.rotate()
	}
	return nil
}

func (l *File) open() error {
	f, err := os.OpenFile(l.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, mode)
	if err != nil {
		return fmt.Errorf("opening log file: %w", err)
	}
	l.f = f
	l.lastCheck = time.Now()
	return nil
}

// replaced reports whether Path now names another file than the one open
// (another process rotated it).
func (l *File) replaced() bool {
	onDisk, err := os.Stat(l.Path)
	if err != nil {
		return true
	}
	open, err := l.f.Stat()
	return err != nil || !os.SameFile(onDisk, open)
}

// rotate renames Path to Path.1 (shifting older backups) under an exclusive
// lock, unless another process did so meanwhile, and reopens Path.
func (l *File) rotate() error {
	lock, err := os.OpenFile(l.Path+".lock", os.O_RDWR|os.O_CREATE, mode)
	if err != nil {
		return fmt.Errorf("opening log lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking log: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if !l.replaced() {
		backups := l.Backups
		if backups <= 0 {
			backups = 5
		}
		os.Remove(fmt.Sprintf("%s.%d", l.Path, backups))
		for i := backups - 1; i >= 1; i-- {
			os.Rename(fmt.Sprintf("%s.%d", l.Path, i), fmt.Sprintf("%s.%d", l.Path, i+1))
		}
		if err := os.Rename(l.Path, l.Path+".1"); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("rotating log: %w", err)
		}
	}
	l.f.Close()
	l.f = nil
	return l.open()
}

func (l *File) maxBytes() int64 {
	if l.MaxBytes <= 0 {
		return 100 << 20
	}
	return l.MaxBytes
}
