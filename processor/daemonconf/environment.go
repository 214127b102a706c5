package daemonconf

import "fmt"

// v1Variables are environment names of the AWS SDK for Java v1 (which
// kclpy 2.x guides use) and the SDK v2 names KCL 3 reads instead. SDK v1
// read the access key from AWS_ACCESS_KEY_ID, else AWS_ACCESS_KEY, and the
// secret from AWS_SECRET_KEY, else AWS_SECRET_ACCESS_KEY; SDK v2 reads only
// the second name of each pair.
var v1Variables = []struct {
	v1, v2   string
	v1First  bool // SDK v1 preferred the v1 name when both were set
	readable string
}{
	{"AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", false, "access key"},
	{"AWS_SECRET_KEY", "AWS_SECRET_ACCESS_KEY", true, "secret key"},
}

// checkEnvironment finds SDK v1 credential variables that KCL 3 would not
// read. It compares values and never prints them.
func checkEnvironment(env map[string]string) []Finding {
	var out []Finding
	for _, v := range v1Variables {
		old, cur := env[v.v1], env[v.v2]
		switch {
		case old == "":
		case cur == "":
			out = append(out, Finding{Key: v.v1, Severity: Warning, Environment: true,
				Problem: fmt.Sprintf("KCL 3 (AWS SDK v2) does not read %s, an SDK v1 name, and %s is not set: its default chain goes on to a profile or an instance role, which may be another identity", v.v1, v.v2),
				Hint:    fmt.Sprintf("scripts/launch.sh passes it on as %s (and says so); a daemon started otherwise needs %s exported", v.v2, v.v2)})
		case v.v1First && old != cur:
			out = append(out, Finding{Key: v.v1, Severity: Warning, Environment: true,
				Problem: fmt.Sprintf("%s and %s hold different %ss: kclpy 2 (SDK v1) used %s, KCL 3 uses %s", v.v1, v.v2, v.readable, v.v1, v.v2),
				Hint:    "unset the one you do not mean"})
		}
	}
	return out
}
