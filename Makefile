# para-cpp: every entry point a developer or CI needs.
#   make run            set up, build and start para-server on :8080 with ./data
#   make test           set up, build and run every test suite
#   make test-sanitize  the same suites under AddressSanitizer + UBSan
#   make build | bench | format | format-check | clean

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= 2
CMAKE_ARGS ?=

FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60

SOAK_SECONDS ?= 600

.PHONY: setup build run test test-sanitize fuzz bench bench-aws soak format format-check clean

setup:
	@bash scripts/setup.sh

$(BUILD)/CMakeCache.txt: | setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)

build: setup $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

run: build
	mkdir -p data
	$(BUILD)/para-server

test: build
	cd $(BUILD) && ctest --output-on-failure -j1

test-sanitize: setup
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=ON -DPARA_BUILD_BENCH=OFF $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j1

# libFuzzer targets (clang), each run for FUZZ_SECONDS from the seed corpus.
fuzz: setup
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DPARA_FUZZ=ON -DPARA_BUILD_TESTS=OFF -DPARA_BUILD_BENCH=OFF $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_targets
	bash fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: build
	@bash bench/run.sh $(BUILD)

.PHONY: bench-quick
bench-quick: build
	@bash bench/run.sh $(BUILD) --quick

# AWS IoT broker against moto with 20 ms per call: calls per operation and
# paced create/delete rates (results in bench/AWS.md).
bench-aws: build
	cd tests/integration && npm ci --no-audit --no-fund --loglevel=error
	node bench/aws_bench.js 20 bench/AWS.md

# Mixed load for SOAK_SECONDS with the server's RSS sampled every 10 s
# (results in bench/SOAK.md). Not part of CI.
soak: build
	cd tests/integration && npm ci --no-audit --no-fund --loglevel=error
	node tests/soak/soak.js $(SOAK_SECONDS) bench/SOAK.md

format:
	clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'bench/*.cpp' 'fuzz/*.cpp')

format-check:
	clang-format --dry-run -Werror $$(git ls-files 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'bench/*.cpp' 'fuzz/*.cpp')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
