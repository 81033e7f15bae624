# ferry — the two set-up commands are `make demo` and `make test`; everything else is a helper.
BUILD   ?= build
PREFIX  ?= /usr/local
JOBS    ?= $(shell nproc)
CMAKE_FLAGS ?=
# Debian packages the build, tests, benchmarks and CLI need (libboost-dev: Boost.Odeint, the
# benchmarks' RK4 peer only).
DEBS := cmake make g++ clang libomp-dev libeigen3-dev libxsimd-dev xtl-dev catch2 libbenchmark-dev \
        nlohmann-json3-dev libcli11-dev libstb-dev librandom123-dev libboost-dev

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build demo test bench install clean fuzz

deps:  ## install every missing Debian package (quiet when all are present)
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DFERRY_WERROR=ON $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/bin/ferry demo

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

bench: build
	$(BUILD)/bin/ferry_bench --benchmark_counters_tabular=true

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# libFuzzer harnesses (clang, ASan + UBSan) in their own build dir; each runs FUZZ_SECONDS (or, with
# FUZZ_RUNS=N, N executions) on a working copy of its seed corpus (tests/fuzz/corpus/<name>);
# crashes land in $(FUZZ_BUILD)/crashes.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?=
FUZZ_LIMIT   := $(if $(FUZZ_RUNS),-runs=$(FUZZ_RUNS),-max_total_time=$(FUZZ_SECONDS))
FUZZERS := fuzz_npy fuzz_gmm_json fuzz_discrete_json fuzz_scheduler_config fuzz_cli

fuzz: deps
	CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFERRY_FUZZ=ON -DFERRY_WERROR=ON \
	  -DFERRY_BUILD_TESTS=OFF -DFERRY_BUILD_BENCHMARKS=OFF -DFERRY_OPENMP=OFF >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZERS)
	@mkdir -p $(FUZZ_BUILD)/crashes
	@for f in $(FUZZERS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$f && cp -n tests/fuzz/corpus/$$f/* $(FUZZ_BUILD)/corpus/$$f/ && \
	  echo "== $$f ($(FUZZ_LIMIT))" && \
	  $(FUZZ_BUILD)/bin/$$f $(FUZZ_LIMIT) -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix=$(FUZZ_BUILD)/crashes/$$f- -print_final_stats=1 $(FUZZ_BUILD)/corpus/$$f \
	    >$(FUZZ_BUILD)/$$f.log 2>&1; rc=$$?; \
	  grep -E 'stat::number_of_executed_units|SUMMARY' $(FUZZ_BUILD)/$$f.log; \
	  if [ $$rc != 0 ]; then tail -40 $(FUZZ_BUILD)/$$f.log; exit 1; fi; \
	done

clean:
	rm -rf $(BUILD)
