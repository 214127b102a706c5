package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/daemonsim"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times; 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// procInfo is what sampling needs from /proc/<pid>/stat.
type procInfo struct {
	ppid int
	cpu  time.Duration // user + system
}

// readProcs reads every process's parent and CPU time. Processes that vanish
// while it reads are skipped.
func readProcs() map[int]procInfo {
	out := map[int]procInfo{}
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok {
			out[pid] = p
		}
	}
	return out
}

func readProc(pid int) (procInfo, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	// The command name is in parentheses and may hold spaces: fields
	// start after the last ')'. Field 4 is the parent, 14 and 15 the
	// user and system ticks.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procInfo{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return procInfo{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return procInfo{ppid: ppid, cpu: time.Duration(utime+stime) * time.Second / clockTicks}, true
}

// cpuSample is CPU time per pid, grouped by a name.
type cpuSample map[string]map[int]time.Duration

// sampleCPU reads the CPU time of the daemon JVM, of its children (our child
// processes) and of each watched process with its children.
func sampleCPU(watch []watchSpec, daemonPid int) cpuSample {
	procs := readProcs()
	s := cpuSample{}
	group := func(name string, pid int, self, kids bool) {
		m := s[name]
		if m == nil {
			m = map[int]time.Duration{}
			s[name] = m
		}
		if p, ok := procs[pid]; ok && self {
			m[pid] = p.cpu
		}
		if kids {
			for cpid, p := range procs {
				if p.ppid == pid {
					m[cpid] = p.cpu
				}
			}
		}
	}
	group("daemon (JVM)", daemonPid, true, false)
	group("children (ours)", daemonPid, false, true)
	for _, w := range watch {
		if pid := readPidFile(w.pidFile); pid > 0 {
			group(w.name, pid, true, true)
		}
	}
	return s
}

// readPidFile reads the first line of a pid file (postmaster.pid has more).
func readPidFile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	return pid
}

// cpuShares is the CPU each group spent between two samples; a process that
// started in between counts from zero, one that exited in between is lost.
func cpuShares(before, after cpuSample, wall time.Duration) map[string]CPUShare {
	out := map[string]CPUShare{}
	for name, pids := range after {
		var d time.Duration
		for pid, cpu := range pids {
			d += cpu - before[name][pid]
		}
		out[name] = CPUShare{Seconds: d.Seconds(), Cores: d.Seconds() / wall.Seconds()}
	}
	return out
}

// childrenPeakRSS returns the largest VmHWM among the daemon's children, in
// MiB, and how many children there are.
func childrenPeakRSS(daemonPid int) (float64, int) {
	var peak int64
	n := 0
	for pid, p := range readProcs() {
		if p.ppid != daemonPid {
			continue
		}
		n++
		peak = max(peak, daemonsim.PeakRSS(pid))
	}
	return float64(peak) / (1 << 20), n
}
