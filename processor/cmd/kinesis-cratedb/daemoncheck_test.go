package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckDaemonProperties(t *testing.T) {
	kclpy2, err := filepath.Abs(filepath.Join("..", "..", "daemonconf", "testdata", "kclpy2.properties"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join("..", "..", "..")) // the repository, where the daemon starts
	for _, k := range []string{"AWS_ACCESS_KEY", "AWS_SECRET_KEY"} {
		t.Setenv(k, "") // the machine's environment is not under test here
	}
	kcl2 := t.TempDir() // a KCL 2.x daemon's jars, as make jars-kcl2 leaves them
	if err := os.WriteFile(filepath.Join(kcl2, "amazon-kinesis-client-multilang-2.5.4.jar"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		jars string // KCL_JARS_DIR
		code int
		says []string
	}{
		{"properties/local.properties", "", 0, nil},
		{"properties/record_processor.properties", "", 0, nil},
		{kclpy2, "", exitConfig, []string{
			":7: warning: executableName = sample_kclpy_app.py",
			"change line 7 to: executableName = bin/kinesis-cratedb --properties " + kclpy2,
			":17: error: AWSCredentialsProvider = DefaultAWSCredentialsProviderChain",
			"change line 17 to: AwsCredentialsProvider = DefaultCredentialsProvider",
			"the KCL 3 daemon would stop at start-up",
		}},
		// The KCL 2.x daemon reads the SDK v1 names: the file starts it.
		{kclpy2, kcl2, 0, []string{
			":7: warning: executableName = sample_kclpy_app.py",
			"the daemon in KCL_JARS_DIR is KCL 2.5.4",
		}},
		{"no/such.properties", "", exitConfig, []string{"no such file"}},
	}
	for _, tt := range tests {
		name := filepath.Base(tt.path)
		if tt.jars != "" {
			name += "/kcl2"
		}
		t.Run(name, func(t *testing.T) {
			t.Setenv("KCL_JARS_DIR", tt.jars)
			var stderr strings.Builder
			code := checkDaemonProperties(tt.path, "bin/kinesis-cratedb", &stderr)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\n%s", code, tt.code, stderr.String())
			}
			if tt.says == nil && stderr.Len() > 0 {
				t.Errorf("findings for the repository's own file:\n%s", stderr.String())
			}
			for _, s := range tt.says {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("does not say %q:\n%s", s, stderr.String())
				}
			}
			if tt.jars != "" && strings.Contains(stderr.String(), "error") {
				t.Errorf("an error for the KCL 2.x daemon:\n%s", stderr.String())
			}
		})
	}
}
