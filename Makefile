# The two commands a user needs: `make demo` and `make test`.
# Both install missing Debian packages first (scripts/install-deps.sh).

JOBS ?= $(shell nproc)

.PHONY: all deps build build-asan build-fuzz test test-asan fuzz demo bench conformance deb clean format

all: build

deps:
	@bash scripts/install-deps.sh

build:
	@cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j $(JOBS)

build-asan:
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSTEEP_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)

build-fuzz:
	@CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTEEP_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS)

# All tests: the release build, then the unit and integration tests again
# under ASan+UBSan, then each fuzz target for a short, bounded time.
test: deps build build-asan build-fuzz
	@cd build && ctest --output-on-failure -j $(JOBS) --timeout 600
	@cd build-asan && ctest --output-on-failure -j $(JOBS) --timeout 900 -L sanitize
	@bash scripts/run-fuzzers.sh build-fuzz

demo: deps build
	@bash scripts/demo.sh

# The Debian package of everything `cmake --install` installs (prefix /usr),
# written to build-release/steep_VERSION_ARCH.deb. A release tree of its own:
# the hostile test functions and the syscall audit are not compiled in
# (-DSTEEP_TEST_PAYLOADS=OFF), unlike build/, which the tests need.
deb: deps
	@cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTEEP_TEST_PAYLOADS=OFF >/dev/null
	@cmake --build build-release -j $(JOBS)
	@cd build-release && cpack -G DEB

bench: deps build
	@bash scripts/bench.sh

# The WebAssembly core spec tests through the wasm executor's engine
# (every non-SIMD file of ../shared/fixtures/wasm-testsuite).
conformance: deps build
	@bash tests/wamr/run_conformance.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	@rm -rf build build-asan build-fuzz build-release
