# Entry points for people and CI; the build itself is CMake (see README.md).
#   make              install missing Debian packages, configure build/, build
#   make check        build, then run every test (J=2 to run two at a time)
#   make demo         build, then run the main demo (demos/tmux-demo.sh)
#   make demo-process build, then run the process demo (demos/run-demo.sh)
#   make demo-vnc     build, then run the VNC desktop demo (demos/vnc-demo.sh)
#   make demo-x11     build, then run the X11 demo (demos/x11-demo.sh)
#   make bench        build, then run the benchmarks (build/bin/bench_*)
#   make soak         build, then dump a busy tmux every 2 s for SOAK_MINUTES (default 10)
#                     and check leaks, lost output and that the images restore (not in check)
#   make install      install ckpt under PREFIX (default /usr/local), honours DESTDIR
#   make deb          build a Debian package (build/ckpt_VERSION_amd64.deb)
#   make fuzz         build the libFuzzer targets with clang in build-fuzz/ and run
#                     each for FUZZ_SECONDS (default 30) over tests/fuzz/<target>/
#   make format       clang-format every C++ source
#   make clean        remove build/
# Warnings are errors when CI is set in the environment (as CI does), or with WERROR=ON.

BUILD   ?= build
J       ?= 1
PREFIX  ?= /usr/local
DESTDIR ?=
WERROR  ?= $(if $(CI),ON,OFF)
CMAKE_ARGS ?=
NPROC   := $(shell nproc)

# cmake drives its own make: keep this make's job server and flags out of it.
CMAKE := env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL cmake

FUZZ_SECONDS ?= 30
SOAK_MINUTES ?= 10

.PHONY: all deps configure build check demo demo-process demo-vnc demo-x11 bench soak install deb format clean fuzz

all: build

deps:
	@scripts/install-deps.sh

# Configure only when build/ is new or asked differently: the build re-runs
# cmake by itself when a CMakeLists.txt (or a globbed directory) changes.
configure: deps
	@if [ -n "$(CMAKE_ARGS)" ] || \
	    ! grep -qx 'CKPT_WERROR:BOOL=$(WERROR)' $(BUILD)/CMakeCache.txt 2>/dev/null; then \
	  $(CMAKE) -S . -B $(BUILD) -DCKPT_WERROR=$(WERROR) $(CMAKE_ARGS); fi

build: configure
	@$(CMAKE) --build $(BUILD) -j$(NPROC)

check: build
	ctest --test-dir $(BUILD) --output-on-failure --no-tests=error -j$(J)

demo: build
	CKPT=$(BUILD)/bin/ckpt demos/tmux-demo.sh

demo-process: build
	CKPT=$(BUILD)/bin/ckpt demos/run-demo.sh

demo-vnc: build
	CKPT=$(BUILD)/bin/ckpt demos/vnc-demo.sh

demo-x11: build
	CKPT=$(BUILD)/bin/ckpt demos/x11-demo.sh

bench: build
	@set -e; found=0; for b in $(BUILD)/bin/bench_*; do \
	  [ -x "$$b" ] || continue; found=1; echo "== $$b"; "$$b"; done; \
	  [ $$found = 1 ] || { echo "no benchmarks in $(BUILD)/bin" >&2; exit 1; }

soak: build
	CKPT=$(BUILD)/bin/ckpt SOAK_MINUTES=$(SOAK_MINUTES) scripts/soak.py

install: build
	DESTDIR="$(DESTDIR)" $(CMAKE) --install $(BUILD) --prefix "$(PREFIX)"

deb: build
	cd $(BUILD) && cpack -G DEB

# Crashes are written to build-fuzz/; keep the input under tests/fuzz/manifest/
# once fixed (the unit tests run every input there).
fuzz: deps
	@CC=clang CXX=clang++ $(CMAKE) -S . -B build-fuzz -DCKPT_FUZZ=ON -DCKPT_WERROR=$(WERROR) >/dev/null
	@$(CMAKE) --build build-fuzz -j$(NPROC) --target fuzz_manifest
	mkdir -p build-fuzz/corpus-manifest
	cd build-fuzz && ./bin/fuzz_manifest -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	  corpus-manifest ../tests/fuzz/manifest

format:
	find . \( -path './build*' -o -path ./.git \) -prune -o -type f \
	  \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cc' \) -print0 \
	  | xargs -0 -r clang-format -i

clean:
	rm -rf $(BUILD)
