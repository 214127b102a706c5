# kinesis-cratedb — see README.md.
#   make demo    set up the local stack, run the daemon with our child, publish, show rows
#   make test    all tests: unit + end to end (real daemon, emulators, PostgreSQL)
#   make bench   benchmarks against PostgreSQL and amazon-kclpy (scripts/bench/RESULTS.md)
#   make chaos   fault-injection suite (scripts/chaos/RESULTS.md)

SHELL        := /bin/bash
GO           ?= go
KCL_VERSION  ?= 3.1.3
# The product (module github.com/kinesis-cratedb/kinesis-cratedb, processor/)
# and the test tools (module .../scripts/tools: the emulator helpers, the
# publisher, the bench driver and the end-to-end tests, the only users of the
# AWS SDK). The tools module uses the product from this tree (replace ../..).
PRODUCT      := kinesis-cratedb record-processor
TOOLS        := kinesis-local publish kcl-bench
BIN          := $(addprefix bin/,$(PRODUCT) $(TOOLS))
JARS_STAMP   := jars/lib/.kcl-$(KCL_VERSION)
NPM_STAMP    := scripts/node_modules/.package-lock.json
GO_SOURCES   := $(shell find processor -name '*.go' -not -name '*_test.go') go.mod go.sum
TOOLS_SOURCES := $(GO_SOURCES) $(shell find scripts/tools -name '*.go' -not -name '*_test.go') scripts/tools/go.mod scripts/tools/go.sum

.PHONY: all build tools jars npm deps test test-unit demo bench chaos stack-up stack-down vet fmt clean

all: build

build: $(BIN)

tools: $(addprefix bin/,$(TOOLS))

$(addprefix bin/,$(PRODUCT)): bin/%: $(GO_SOURCES)
	$(GO) build -o $@ ./processor/cmd/$*

$(addprefix bin/,$(TOOLS)): bin/%: $(TOOLS_SOURCES)
	cd scripts/tools && $(GO) build -o ../../$@ ./cmd/$*

# The daemon's jars: the multilang artifact and its runtime closure from Maven
# Central (make jars KCL_VERSION=2.5.4 for a KCL 2.x line).
jars: $(JARS_STAMP)
$(JARS_STAMP): jars/pom.xml
	rm -rf jars/lib
	mvn -B -q -f jars/pom.xml -Dkcl.version=$(KCL_VERSION) dependency:copy-dependencies
	touch $@

# The AWS emulators (kinesis-mock, dynalite) from the npm registry.
npm: $(NPM_STAMP)
$(NPM_STAMP): scripts/package.json scripts/package-lock.json
	npm ci --prefix scripts --no-audit --no-fund

deps: jars npm
	$(GO) mod download
	cd scripts/tools && $(GO) mod download

vet:
	$(GO) vet ./...
	cd scripts/tools && $(GO) vet ./...
	@test -z "$$(gofmt -l processor scripts/tools)" || { gofmt -l processor scripts/tools; exit 1; }

# All tests. scripts/test.sh starts PostgreSQL and the emulators, runs
# `go test ./...` in the product, then in the tools, and stops everything it
# started.
# CRATEDB_HOME names the CrateDB the tests start (any tarball layout); by
# default the shared one beside this clone, when there is one.
test: export CRATEDB_HOME ?= $(wildcard $(CURDIR)/../shared/crate-6.4.3)
test: deps build vet
	scripts/test.sh

# Unit tests only (no services), product then tools.
test-unit:
	$(GO) test -short ./...
	cd scripts/tools && $(GO) test -short ./...

demo: deps build
	scripts/demo.sh

bench: deps build
	scripts/bench/run.sh

# The fault-injection suite at full strength (make test runs a short version).
chaos: export CRATEDB_HOME ?= $(wildcard $(CURDIR)/../shared/crate-6.4.3)
chaos: deps build
	scripts/chaos.sh

stack-up: npm
	scripts/stack.sh start
stack-down:
	scripts/stack.sh stop

clean:
	rm -rf bin jars/lib .stack
