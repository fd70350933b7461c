# Thin wrapper over CMake. `make demo` and `make check` install missing
# Debian packages first (scripts/install-deps.sh).
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps build demo check check-asan install clean

all: build

deps:
	./scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DRZ_WERROR=ON $(CMAKE_ARGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# 4 local ranks: the allreduce benchmark, a tiny example, then Fashion-MNIST
# training with SAEF/sign next to P-SGD (scripts/demo_train.sh).
demo: deps build
	$(BUILD)/bin/rzrun -np 4 $(BUILD)/bin/rz_allreduce_perf -b 8 -e 64M -f 4 -n 10 -w 2
	$(BUILD)/bin/rzrun -np 4 $(BUILD)/bin/rz_allreduce_perf -b 1M -e 64M -f 4 -n 10 -w 2 -c sign -m saef -t sharded -p 20
	$(BUILD)/bin/rzrun -np 4 $(BUILD)/bin/example_allreduce
	./scripts/demo_train.sh $(BUILD) 3

# The whole suite, then the sanitizer build's subset.
check: deps build
	cd $(BUILD) && ctest --output-on-failure --timeout 1200
	$(MAKE) check-asan

check-asan:
	cmake -S . -B $(ASAN_BUILD) -DRZ_WERROR=ON -DRZ_SANITIZE=ON -DRZ_BUILD_PERF=OFF $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -L asan --timeout 1200

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
