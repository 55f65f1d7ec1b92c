# Makefile for apivalue (PGXS)

PG_CONFIG  ?= pg_config

EXTENSION   = apivalue
EXTVERSION  = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big  = apivalue
OBJS        = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# One hand-edited SQL file per family, concatenated in this fixed order into
# the install script.  Families that do not exist yet are skipped.
SQL_FAMILIES = schema funnel sequence journey calendar ttfv retention \
               quality drift catalog privacy usage product governance charts report
SQL_PARTS   = $(wildcard $(addprefix sql/,$(addsuffix .sql,$(SQL_FAMILIES))))

# The current version's install script is built from the families; the
# install scripts of released versions are kept frozen beside it (sql/
# apivalue--X.sql, never edited) with the upgrade scripts (apivalue--A--B.sql),
# so every released version can be installed and updated (test/layers/upgrade.sh).
DATA_built  = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA        = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*.sql))

REGRESS     = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test --outputdir=test

ICU_CFLAGS  := $(shell pkg-config --cflags icu-uc icu-i18n)
ICU_LIBS    := $(shell pkg-config --libs icu-uc icu-i18n)
# Server headers as system headers: -Wextra then judges only our own code.
PG_CPPFLAGS = -isystem $(shell $(PG_CONFIG) --includedir-server) $(ICU_CFLAGS)
PG_CFLAGS   = -Wall -Wextra $(EXTRA_CFLAGS)
SHLIB_LINK  = $(ICU_LIBS) $(EXTRA_LDFLAGS)

EXTRA_CLEAN = test/results test/regression.diffs test/regression.out


PGXS       := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(DATA_built): $(SQL_PARTS) $(EXTENSION).control
	cat $(SQL_PARTS) > $@

.PHONY: test demo bench
test:
	scripts/test.sh
demo:
	scripts/demo.sh
bench:
	scripts/bench.sh

include test/bench/microbench.mk
