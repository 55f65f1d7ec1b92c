#!/usr/bin/env python3
"""apivalue input fuzzer: random and mutated strings for every user-reachable
parser, found from the catalog like the garden (test/garden/garden.py):

  * every text / text[] argument of an extension function whose name says it
    is parsed (pattern, mode, period, zone, locale, direction, base,
    attribution, counting, order, kind, condition, expression, steps,
    exclusions, breakdown, cron ...), the other arguments held at the
    garden's valid values;
  * the input function of every base type the extension defines (reached by
    a cast from text, as COPY and every client do).

Seeds are the garden's candidate values for the argument (valid ones and edge
cases); inputs are seeds mutated (characters inserted, deleted, replaced from
a grammar-flavoured alphabet, blocks duplicated, seeds spliced, truncated)
plus purely random strings, from a fixed seed.  They run inside the server in
batches (fuzz.run_batch: one EXECUTE ... USING per input, each in its own
subtransaction); a crash ends the batch, which is then replayed one input
per statement to name the input that crashed.

Pass: no crash, no XX000.  Prints one summary line.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'garden'))
import garden  # noqa: E402

PARSED = ('pattern', 'mode', 'period', 'zone', 'tz', 'locale', 'direction', 'base',
          'attribution', 'counting', 'order', 'kind', 'condition', 'expr', 'step',
          'exclu', 'breakdown', 'outcome', 'exposure', 'filter', 'canary', 'cron',
          'schedule', 'unit', 'latency', 'label', 'format', 'path', 'name')

ALPHABET = list('()?.*t<=>!0123456789,_:;-+ ') + list("abcdefghijklmnopqrstuvwxyz") + \
    ['(?', '(?t', ')', '(?1)', '.*', 'strict_', 'order', 'AND', 'OR', 'SELECT', ';', "'", '"',
     '\\', '\n', '\t', '\x00'.replace('\x00', ''), '\u00e9', '\U0001d11e', '%', '$1', '--', '/*',
     '99999999999999999999', '-9223372036854775808', 'NULL', 'e1', 'event', '=']

SETUP_SQL = r"""
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS fuzz CASCADE;
CREATE SCHEMA fuzz;
RESET client_min_messages;
CREATE TABLE fuzz.targets (id int PRIMARY KEY, label text, template text, is_array boolean);
CREATE TABLE fuzz.inputs (target int, id int, input text, PRIMARY KEY (target, id));
CREATE TABLE fuzz.tally (target int, outcome text, sqlstate text, n bigint);
CREATE TABLE fuzz.bad (target int, id int, outcome text, sqlstate text, message text);

-- Runs inputs [lo, hi] of one target; each in a subtransaction.
CREATE FUNCTION fuzz.run_batch(t int, lo int, hi int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  tg fuzz.targets;
  r record;
  st text;
  msg text;
  arr text[];
BEGIN
  SELECT * INTO STRICT tg FROM fuzz.targets WHERE id = t;
  CREATE TEMP TABLE IF NOT EXISTS tally_tmp (outcome text, sqlstate text);
  TRUNCATE tally_tmp;
  FOR r IN SELECT id, input FROM fuzz.inputs WHERE target = t AND id BETWEEN lo AND hi ORDER BY id LOOP
    BEGIN
      IF tg.is_array THEN
        arr := ARRAY[r.input, r.input];
        EXECUTE tg.template USING arr;
      ELSE
        EXECUTE tg.template USING r.input;
      END IF;
      INSERT INTO tally_tmp VALUES ('ok', NULL);
    EXCEPTION
      WHEN query_canceled THEN
        INSERT INTO tally_tmp VALUES ('timeout', '57014');
        INSERT INTO fuzz.bad VALUES (t, r.id, 'timeout', '57014', NULL);
      WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        INSERT INTO tally_tmp VALUES ('error', st);
        IF st LIKE 'XX%' OR coalesce(msg, '') = '' THEN
          INSERT INTO fuzz.bad VALUES (t, r.id, 'error', st, left(msg, 300));
        END IF;
    END;
  END LOOP;
  INSERT INTO fuzz.tally SELECT t, outcome, sqlstate, count(*) FROM tally_tmp GROUP BY 1, 2, 3;
END
$$;
"""


def mutate(rng, seeds):
    s = rng.choice(seeds)
    op = rng.random()
    if op < 0.08:
        return ''.join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40)))
    if op < 0.12:
        return ''.join(chr(rng.randint(1, 0x2FF)) for _ in range(rng.randint(0, 30)))
    if op < 0.2 and len(seeds) > 1:
        a, b = s, rng.choice(seeds)
        return a[:rng.randint(0, len(a))] + b[rng.randint(0, len(b)):]
    s = list(s)
    for _ in range(rng.randint(1, 4)):
        k = rng.random()
        pos = rng.randint(0, len(s))
        if k < 0.35:
            s.insert(pos, rng.choice(ALPHABET))
        elif k < 0.6 and s:
            del s[min(pos, len(s) - 1)]
        elif k < 0.8 and s:
            s[min(pos, len(s) - 1)] = rng.choice(ALPHABET)
        elif k < 0.9 and s:
            a = rng.randint(0, len(s) - 1)
            b = rng.randint(a, min(len(s), a + 12))
            s[pos:pos] = s[a:b] * rng.randint(1, 20)
        else:
            s = s[:pos]
    return ''.join(s)[:4000]


def seeds_of(cands):
    out = []
    for c in cands:
        sql = c.sql
        # 'value'::text  ->  value  (only plain literals make seeds)
        if sql.startswith("'") and sql.rfind("'::") > 0:
            out.append(sql[1:sql.rfind("'::")].replace("''", "'"))
    return [s for s in out if len(s) < 5000] or ['']


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--extension', default='apivalue')
    ap.add_argument('--inputs', type=int, default=100000, help='inputs in total (at least)')
    ap.add_argument('--min-per-target', type=int, default=800)
    ap.add_argument('--seed', type=int, default=13)
    ap.add_argument('--batch', type=int, default=500)
    ap.add_argument('--timeout-ms', type=int, default=20000, help='per batch')
    ap.add_argument('--budget-s', type=int, default=300)
    ap.add_argument('--out', default='test/out/fuzz')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    garden.psql(['-f', os.path.join(HERE, '..', 'garden', 'setup.sql')])
    garden.psql(['-c', SETUP_SQL])
    d = json.loads(garden.query(garden.CATALOG_SQL % garden.lit(a.extension)))
    fns = []
    for f in d:
        if any(x['type'] in ('internal', 'trigger', 'event_trigger', 'cstring') for x in f['args']):
            continue
        if f['rettype'] in ('trigger', 'event_trigger', 'internal'):
            continue
        if f['proname'].startswith('_') and not f['public_exec']:
            continue
        fns.append(garden.Fn(f))
    gen = garden.Generator(fns, 1, a.seed, 1)
    targets = []   # (label, template, is_array, seeds)
    for fn in fns:
        if fn.prokind == 'p' or fn.d['proname'].startswith(('drop_', 'rotate_', 'add_', 'define_')):
            continue   # state-changing calls: covered by the garden
        cands = [gen.arg_cands(fn, x) for x in fn.args]
        if any(not c for c in cands):
            continue
        variadic = fn.args and fn.args[-1].variadic
        vforms = gen.variadic_forms(fn) if variadic else []
        fixed = len(fn.args) - 1 if vforms else len(fn.args)
        base = [c[0].sql for c in cands[:fixed]]
        tail = vforms[3][1] if vforms else []
        for i, arg in enumerate(fn.args[:fixed]):
            if arg.type not in ('text', 'text[]') or not garden.has(arg.name, *PARSED):
                continue
            vals = list(base)
            vals[i] = '$1::%s' % arg.type
            sql = gen.render(fn, vals + (list(tail) if not isinstance(tail, str) else [tail]),
                             'f_normal', 'base')
            targets.append(('%s arg %s' % (fn.sig, arg.name or i + 1), sql, arg.type == 'text[]',
                            seeds_of(cands[i]) if arg.type == 'text' else
                            [x for c in cands[i] for x in seeds_of([c])] or ['true']))
    # Input functions of the extension's own base types.
    for row in garden.query("""
        SELECT format_type(t.oid, NULL) FROM pg_type t JOIN pg_depend d
          ON d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e'
         AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = %s)
        WHERE t.typtype = 'b' ORDER BY 1""" % garden.lit(a.extension)).split('\n'):
        if row.strip():
            targets.append(('input function of %s' % row, 'SELECT ($1::text::%s)::text' % row, False,
                            ['', '{}', '\\x00', 'x', '1', '(1,2)']))
    if not targets:
        print('fuzz: no parser-like arguments or types found in %s (0 inputs)' % a.extension)
        return 0

    per = max(a.min_per_target, -(-a.inputs // len(targets)))
    rng = random.Random(a.seed)
    lines = []
    tgt_rows = []
    for t, (label, sql, is_array, seeds) in enumerate(targets, 1):
        tgt_rows.append('%d\t%s\t%s\t%s\n' % (t, garden.copy_escape(label), garden.copy_escape(sql),
                                              't' if is_array else 'f'))
        for i in range(1, per + 1):
            s = seeds[(i - 1) % len(seeds)] if i <= len(seeds) else mutate(rng, seeds)
            lines.append('%d\t%d\t%s\n' % (t, i, garden.copy_escape(s)))
    garden.psql(['-c', r'\copy fuzz.targets FROM STDIN'], input_text=''.join(tgt_rows))
    garden.psql(['-c', r'\copy fuzz.inputs FROM STDIN'], input_text=''.join(lines))
    print('fuzz: %d targets, %d inputs each' % (len(targets), per), flush=True)

    t0 = time.time()
    crashes = []
    run = 0
    for t in range(1, len(targets) + 1):
        lo = 1
        while lo <= per:
            if time.time() - t0 > a.budget_s:
                break
            hi = min(per, lo + a.batch - 1)
            p = subprocess.run(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c',
                                'SET statement_timeout = %d' % a.timeout_ms, '-c',
                                'SELECT fuzz.run_batch(%d, %d, %d)' % (t, lo, hi)],
                               capture_output=True, text=True)
            if p.returncode != 0:
                garden.wait_ready()
                # Replay one input per statement to find the one that crashed.
                for i in range(lo, hi + 1):
                    q = subprocess.run(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c',
                                        'SET statement_timeout = %d' % a.timeout_ms, '-c',
                                        'SELECT fuzz.run_batch(%d, %d, %d)' % (t, i, i)],
                                       capture_output=True, text=True)
                    if q.returncode != 0:
                        inp = garden.query('SELECT input FROM fuzz.inputs WHERE target = %d AND id = %d'
                                           % (t, i)) if garden.wait_ready() else '?'
                        crashes.append((targets[t - 1][0], inp.rstrip('\n'), q.stderr.strip()[-200:]))
                        print('fuzz: CRASH %s input %r' % (targets[t - 1][0], inp.rstrip('\n')[:200]),
                              flush=True)
                        garden.wait_ready()
            run += hi - lo + 1
            lo = hi + 1
    summary = json.loads(garden.query("""
        SELECT json_build_object(
          'ok', coalesce(sum(n) FILTER (WHERE outcome = 'ok'), 0),
          'err', coalesce(sum(n) FILTER (WHERE outcome = 'error' AND sqlstate NOT LIKE 'XX%'), 0),
          'xx', coalesce(sum(n) FILTER (WHERE outcome = 'error' AND sqlstate LIKE 'XX%'), 0),
          'timeout', coalesce(sum(n) FILTER (WHERE outcome = 'timeout'), 0))
        FROM fuzz.tally"""))
    bad = garden.query("""SELECT t.label || ' | ' || b.outcome || ' ' || coalesce(b.sqlstate, '') || ' '
                                 || coalesce(b.message, '<empty message>') || ' | input: '
                                 || left(i.input, 200)
                          FROM fuzz.bad b JOIN fuzz.targets t ON t.id = b.target
                          JOIN fuzz.inputs i ON i.target = b.target AND i.id = b.id
                          ORDER BY b.target, b.id""")
    per_target = garden.query("""SELECT t.label || E'\t' || coalesce(string_agg(y.st || '=' || y.n, ' '
                                                        ORDER BY y.n DESC), '')
                                 FROM fuzz.targets t
                                 LEFT JOIN (SELECT target, coalesce(sqlstate, 'ok') AS st, sum(n) AS n
                                            FROM fuzz.tally GROUP BY 1, 2) y ON y.target = t.id
                                 GROUP BY t.id, t.label ORDER BY t.id""")
    with open(os.path.join(a.out, 'targets.tsv'), 'w') as f:
        f.write(per_target)
    with open(os.path.join(a.out, 'bad.txt'), 'w') as f:
        f.write(bad)
    for l in bad.splitlines()[:20]:
        print('fuzz: FAIL ' + l[:400])
    print('fuzz: %d inputs over %d targets in %.0f s: %d accepted, %d clean errors, %d XX000, '
          '%d timeouts, %d crashes%s'
          % (run, len(targets), time.time() - t0, summary['ok'], summary['err'], summary['xx'],
             summary['timeout'], len(crashes),
             '' if run >= a.inputs else ' (fewer than %d: time budget)' % a.inputs), flush=True)
    empty = sum(1 for l in bad.splitlines() if '<empty message>' in l)
    return 1 if crashes or summary['xx'] or summary['timeout'] or empty else 0


if __name__ == '__main__':
    sys.exit(main())
