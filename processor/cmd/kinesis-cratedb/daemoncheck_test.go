package main

import (
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
	tests := []struct {
		path string
		code int
		says []string
	}{
		{"properties/local.properties", 0, nil},
		{"properties/record_processor.properties", 0, nil},
		{kclpy2, exitConfig, []string{
			":7: warning: executableName = sample_kclpy_app.py",
			"change line 7 to: executableName = bin/kinesis-cratedb --properties " + kclpy2,
			":17: error: AWSCredentialsProvider = DefaultAWSCredentialsProviderChain",
			"change line 17 to: AwsCredentialsProvider = DefaultCredentialsProvider",
			"would stop at start-up",
		}},
		{"no/such.properties", exitConfig, []string{"no such file"}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
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
		})
	}
}
