# Micro-benchmarks of apivalue's C cores, outside PostgreSQL (one core).
# Included from the top Makefile:   include test/bench/microbench.mk
# Run:                              make microbench [MICROBENCH_MEVENTS=20]

MICROBENCH_MEVENTS ?= 20
MICROBENCH_CFLAGS = -O2 -Wall -Wextra -I src -isystem $(shell $(PG_CONFIG) --includedir-server)

test/bench/funnel_bench: test/bench/funnel_bench.c src/funnel.h src/event_buffer.h
	$(CC) $(MICROBENCH_CFLAGS) -o $@ $<

.PHONY: microbench
microbench: test/bench/funnel_bench
	test/bench/funnel_bench $(MICROBENCH_MEVENTS)

EXTRA_CLEAN += test/bench/funnel_bench
