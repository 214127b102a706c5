# kinesis-cratedb — see README.md.
#   make demo    set up the local stack, run the daemon with our child, publish, show rows
#   make test    all tests: unit + end to end (real daemon, emulators, PostgreSQL)
#   make bench   benchmarks against PostgreSQL and amazon-kclpy (scripts/bench/RESULTS.md)
#   make chaos   fault-injection suite (scripts/chaos/RESULTS.md)

SHELL        := /bin/bash
GO           ?= go
# The KCL line make jars fetches by default (jars/pom.xml pins the same).
KCL_DEFAULT  := 3.1.3
KCL_VERSION  ?= $(KCL_DEFAULT)
# The KCL 2.x line the end-to-end tests also run (what kclpy 2.x users run).
KCL2_VERSION := 2.5.4
# The product (module github.com/kinesis-cratedb/kinesis-cratedb, processor/)
# and the test tools (module .../scripts/tools: the emulator helpers, the
# publisher, the bench driver and the end-to-end tests, the only users of the
# AWS SDK). The tools module uses the product from this tree (replace ../..).
PRODUCT      := kinesis-cratedb record-processor
TOOLS        := kinesis-local publish kcl-bench
BIN          := $(addprefix bin/,$(PRODUCT) $(TOOLS))
# A KCL line's jars: the default line's in jars/lib (what launch.sh and the
# tests take unless KCL_JARS_DIR names another), any other line's in
# jars/lib-VERSION beside it, so that 3.x and 2.x jar sets coexist.
jars_dir      = $(if $(filter $(KCL_DEFAULT),$(1)),jars/lib,jars/lib-$(1))
JARS_STAMP   := $(call jars_dir,$(KCL_VERSION))/.kcl-$(KCL_VERSION)
KCL2_STAMP   := $(call jars_dir,$(KCL2_VERSION))/.kcl-$(KCL2_VERSION)
NPM_STAMP    := scripts/node_modules/.package-lock.json
GO_SOURCES   := $(shell find processor -name '*.go' -not -name '*_test.go') go.mod go.sum
TOOLS_SOURCES := $(GO_SOURCES) $(shell find scripts/tools -name '*.go' -not -name '*_test.go') scripts/tools/go.mod scripts/tools/go.sum

.PHONY: all build tools jars jars-kcl2 npm deps test test-kcl2 test-unit demo bench chaos stack-up stack-down vet clean

all: build

build: $(BIN)

tools: $(addprefix bin/,$(TOOLS))

$(addprefix bin/,$(PRODUCT)): bin/%: $(GO_SOURCES)
	$(GO) build -o $@ ./processor/cmd/$*

$(addprefix bin/,$(TOOLS)): bin/%: $(TOOLS_SOURCES)
	cd scripts/tools && $(GO) build -o ../../$@ ./cmd/$*

# The daemon's jars: the multilang artifact and its runtime closure from Maven
# Central (make jars KCL_VERSION=2.5.4 for a KCL 2.x line, into
# jars/lib-2.5.4). The SDK's sso and ssooidc modules, which jars/pom.xml adds,
# must match the SDK KCL was built with: that version is read from KCL's own
# pom (its awssdk.version), so any KCL version gets a consistent set.
jars: $(JARS_STAMP)
jars-kcl2: $(KCL2_STAMP)
$(sort $(JARS_STAMP) $(KCL2_STAMP)): jars/pom.xml
	$(call fetch_jars,$(patsubst .kcl-%,%,$(notdir $@)),$(@D))

# fetch_jars VERSION DIR: KCL VERSION's jar set into DIR, stamped when whole.
define fetch_jars
rm -rf $(2)
mkdir -p $(2)
mvn -B -q -f jars/pom.xml help:evaluate -Dartifact=software.amazon.kinesis:amazon-kinesis-client-pom:$(1) \
	-Dexpression=awssdk.version -Doutput=$(CURDIR)/$(2)/.awssdk-version
mvn -B -q -f jars/pom.xml -Dkcl.version=$(1) -Dawssdk.version=$$(cat $(2)/.awssdk-version) \
	-Djars.dir=$(CURDIR)/$(2) dependency:copy-dependencies
touch $(2)/.kcl-$(1)
endef

# The AWS emulators (kinesis-mock, dynalite) from the npm registry.
npm: $(NPM_STAMP)
$(NPM_STAMP): scripts/package.json scripts/package-lock.json
	npm ci --prefix scripts --no-audit --no-fund

deps: jars jars-kcl2 npm
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
test: export KCL2_JARS_DIR ?= $(CURDIR)/$(call jars_dir,$(KCL2_VERSION))
test: deps build vet
	scripts/test.sh

# The KCL 2.x end-to-end tests alone (make test runs them too): the main
# scenario on the KCL 2.x daemon, and the move of its lease table to KCL 3.
test-kcl2: export CRATEDB_HOME ?= $(wildcard $(CURDIR)/../shared/crate-6.4.3)
test-kcl2: export KCL2_JARS_DIR ?= $(CURDIR)/$(call jars_dir,$(KCL2_VERSION))
test-kcl2: deps build
	scripts/test.sh -run 'TestE2EKCL2' ./scripts/tools/e2e/

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
	rm -rf bin jars/lib jars/lib-* .stack
