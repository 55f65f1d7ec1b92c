#!/usr/bin/env python3
"""apivalue garden: call every function of the extension with odd inputs.

The functions come from the catalog (pg_proc rows that are members of the
extension, pg_depend deptype 'e'), never from a hand list, so functions added
later are covered without touching this file.  Names starting with "_" are
internal helpers: they get only --internal-max calls, and only when PUBLIC
may execute them (then any user can call them, so they must not crash
either).  Functions taking "internal" are skipped (SQL cannot build such a
value, so nobody can call them).

For every argument the generator builds a list of candidate values: a valid
one first (chosen from the argument's name and type), then edge classes:
NULL, empty strings, 1 MB texts, +/-infinity, year 1 and year 294276, zero,
negative and huge windows, malformed patterns and mode strings, unknown
periods, zones and locales, relations lacking the named columns, 0/1/2/32/33
conditions for variadic condition lists, VARIADIC NULL and ragged VARIADIC
arrays.  Aggregates run over small fixture tables (zero rows, one row,
all-NULL rows, equal timestamps, infinite and extreme timestamps, huge texts),
plain, grouped and as window aggregates; window functions run with OVER;
set-returning functions are drained.

Combinations are sampled deterministically: the valid call on every fixture,
each candidate of each argument on its own (one at a time), then seeded
random combinations up to --max-per-function calls per function.

Each call runs through garden.try() (test/garden/setup.sql) as its own
statement, in a subtransaction, under a statement timeout.  A crash ends the
psql session: the runner waits for the server to come back, records the call
that was running as a crash and carries on with the next one.

Needs only the Python standard library and psql; connection settings come
from the environment (PGHOST, PGPORT, ...), as pg_virtualenv sets them.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import re
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

HUGE_TEXT = "repeat('x', 1048576)"
# Functions that create what other functions look up.
SETUP_RE = r'^(define|add|propose|register|create|approve|set)_'
FIXTURES = ['f_normal', 'f_empty', 'f_one', 'f_nulls', 'f_equal_ts',
            'f_infinite', 'f_extreme', 'f_huge_text']
RELATIONS = ['garden.f_normal', 'garden.f_nocols', 'garden.f_empty',
             'garden.f_one', 'garden.f_nulls', 'garden.f_equal_ts',
             'garden.f_infinite', 'garden.f_extreme', 'garden.f_huge_text',
             'garden.v_normal', 'garden.f_part', 'pg_catalog.pg_class']


def lit(s):
    """A SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


CONNECTION_LOST = ('recovery mode', 'connection to server', 'server closed the connection',
                   'shutting down', 'starting up', 'no connection to the server')


def psql(args, input_text=None, check=True):
    cmd = ['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1'] + args
    for _ in range(5):
        p = subprocess.run(cmd, input=input_text, capture_output=True, text=True)
        # After a crash the server restarts; wait for it instead of failing.
        if p.returncode != 0 and any(x in p.stderr for x in CONNECTION_LOST):
            wait_ready()
            continue
        break
    if check and p.returncode != 0:
        sys.stderr.write(p.stderr)
        raise SystemExit('garden: psql failed: %s' % ' '.join(args[:2]))
    return p


def query(sql):
    return psql(['-At', '-c', sql]).stdout


CATALOG_SQL = r"""
SELECT coalesce(json_agg(f ORDER BY f.sig), '[]')
FROM (
  SELECT p.oid::regprocedure::text AS sig,
         quote_ident(n.nspname) || '.' || quote_ident(p.proname) AS qname,
         p.proname, p.prokind, p.proretset,
         p.provariadic <> 0 AS variadic,
         p.pronargs, p.pronargdefaults,
         format_type(p.prorettype, NULL) AS rettype,
         (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) x
                                      WHERE x.grantee = 0 AND x.privilege_type = 'EXECUTE')) AS public_exec,
         a.aggkind, a.aggnumdirectargs,
         (SELECT coalesce(json_agg(json_build_object(
                    'type', format_type(t.oid, NULL),
                    'typtype', t.typtype,
                    'category', t.typcategory,
                    'elem', CASE WHEN t.typelem <> 0 THEN format_type(t.typelem, NULL) END,
                    'base', CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, NULL) END,
                    'ext', EXISTS (SELECT 1 FROM pg_depend td
                                   WHERE td.classid = 'pg_type'::regclass AND td.objid = t.oid
                                     AND td.refclassid = 'pg_extension'::regclass
                                     AND td.refobjid = e.oid AND td.deptype = 'e'),
                    'labels', (SELECT json_agg(enumlabel ORDER BY enumsortorder)
                               FROM pg_enum WHERE enumtypid = t.oid))
                  ORDER BY u.i), '[]')
          FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS u(t, i)
          JOIN pg_type t ON t.oid = u.t) AS args,
         (SELECT coalesce(json_agg(nm ORDER BY i), '[]')
          FROM unnest(coalesce(p.proargnames, '{}'::text[]),
                      coalesce(p.proargmodes, '{}'::"char"[])) WITH ORDINALITY AS x(nm, md, i)
          WHERE md IS NULL OR md IN ('i', 'b', 'v')) AS argnames
  FROM pg_extension e
  JOIN pg_depend d ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
                  AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
  JOIN pg_proc p ON p.oid = d.objid
  JOIN pg_namespace n ON n.oid = p.pronamespace
  LEFT JOIN pg_aggregate a ON a.aggfnoid = p.oid
  WHERE e.extname = %s
) f
"""


class Cand:
    """One candidate value of an argument: SQL text and whether it reads the
    fixture row (e.xxx)."""

    def __init__(self, sql, row=False):
        self.sql = sql
        self.row = row


def typed(values, typ):
    """Constants cast to the argument's exact type, so overloads resolve."""
    out = []
    for v in values:
        if v is None:
            out.append(Cand('NULL::%s' % typ))
        elif v.startswith('=') :
            out.append(Cand('(%s)::%s' % (v[1:], typ)))
        else:
            out.append(Cand('%s::%s' % (lit(v), typ)))
    return out


def has(name, *words):
    return any(w in name for w in words)


# Column of the fixtures to use for a column-name argument.
COLUMN_HINTS = [
    (('user',), 'user_id'), (('tenant',), 'tenant'), (('device',), 'device_id'),
    (('seq',), 'seq'), (('segment', 'tier'), 'plan_tier'), (('payload', 'json'), 'payload'),
    (('variant',), 'variant'), (('feature',), 'endpoint'), (('endpoint',), 'endpoint'),
    (('status',), 'status'), (('latency',), 'latency_ms'), (('sent',), 'sent_at'),
    (('received',), 'received_at'), (('client',), 'ts'), (('time', 'ts'), 'ts'),
    (('event',), 'event'), (('group',), 'event'), (('id',), 'event_id'),
]


def column_for(name):
    for words, col in COLUMN_HINTS:
        if has(name, *words):
            return col
    return 'user_id'


def condition_for(name, i=0):
    if has(name, 'value', 'outcome', 'return', 'conver'):
        return "event = 'e3'"
    if has(name, 'canary'):
        return "event = 'e5'"
    if has(name, 'exclu'):
        return "event = 'e4'"
    return "event = 'e%d'" % (i % 5 + 1)


BAD_CONDITIONS = ['true', '1', 'no_such_column = 1', "true; DROP TABLE garden.f_normal",
                  'true) OR (true', 'NULL', '', 'event = ', "event = 'e1' --",
                  '(SELECT true)', 'WITH x AS (DELETE FROM garden.f_normal RETURNING 1) SELECT true',
                  "user_id = 'u1' AND ts > 'infinity'"]

PATTERNS = ['(?1)(?2)', '(?1).*(?2)', '(?1)(?t<=3600)(?2)', '', '(?', '(?0)', '(?33)', '(?1',
            ')(', '(?1)(?t<=)', '(?1)(?t>-5)(?2)', '(?1)(?t<=99999999999999999999)(?2)',
            '.*.*.*', '(?1).(?2)', '(?99999999999)', '(?-1)', '(?t==3)(?1)', '(?1)(?t==0)(?1)',
            '(?1)(?t<9223372036854775807)(?2)', '(?a)', '(?1)' * 20000, '.*' * 5000,
            '(?1)(?2)(?3)(?4)(?5)(?6)(?7)(?8)(?9)(?10)(?11)(?12)(?13)(?14)(?15)(?16)(?17)'
            '(?18)(?19)(?20)(?21)(?22)(?23)(?24)(?25)(?26)(?27)(?28)(?29)(?30)(?31)(?32)',
            '\u00e9(?1)', '(?1)\x01', None, '=' + HUGE_TEXT]
MODES = ['strict_order', '', 'strict_deduplication', 'strict_increase', 'allow_reentry',
         'strict_order,strict_order', 'strict_order,,', ',', 'bogus', 'STRICT_ORDER',
         ' strict_order ', 'strict_deduplication,strict_order,strict_increase,allow_reentry',
         'strict_order;', None, '=' + HUGE_TEXT]
PERIODS = ['week', 'day', 'month', 'quarter', 'year', 'hour', 'fortnight', '', 'WEEK',
           ' week', None, '=' + HUGE_TEXT]
ZONES = ['UTC', 'Europe/Berlin', 'America/St_Johns', 'Asia/Kathmandu', 'Pacific/Kiritimati',
         'Mars/Olympus', '', '+25:00', 'UTC+14', 'EST5EDT', None, '=' + HUGE_TEXT]
LOCALES = ['en_US', 'de_DE', 'ar_SA', 'en_US@calendar=islamic', 'root', 'xx_INVALID', '',
           '@@@', 'C', None, '=' + HUGE_TEXT]
WORDS = {
    'direction': ['forward', 'backward', 'sideways', '', None],
    'base': ['head', 'tail', 'first_match', 'last_match', 'bogus', '', None],
    'counting': ['unique', 'total', 'bogus', '', None],
    'attribution': ['first_touch', 'last_touch', 'step:1', 'step:0', 'step:-1', 'step:99',
                    'step:x', 'step:', 'bogus', None],
    'step_order': ['ordered', 'any_order', 'strict', '', None],
    'kind': ['classic', 'unbounded', 'rolling', 'bracket', 'bogus', '', None],
    'status': ['proposed', 'approved', 'deprecated', 'bogus', '', None],
}
GENERIC_TEXT = ['e1', '', ' ', '/users/8812/keys/9f2c01ab', 'a"b.c\'d \u00fc \U0001d11e',
                '\uff21\uff22\uff23  Mixed   CASE ', None, '=' + HUGE_TEXT]


class Arg:
    def __init__(self, index, name, info, kind, variadic):
        self.index = index
        self.name = (name or '').lower()
        self.info = info
        self.type = info['type']
        self.kind = kind            # prokind / aggregate form
        self.variadic = variadic


def text_cands(arg, typ):
    n = arg.name
    if has(n, 'column', '_col') or n in ('col', 'column'):
        col = column_for(n)
        wrong = 'event' if col in ('ts', 'sent_at', 'received_at') else 'ts'
        vals = [col, 'no_such_column', '', wrong, '"%s"' % col, col.upper(),
                col + '; DROP TABLE garden.f_normal', 'x', None, '=' + HUGE_TEXT]
        return typed(vals, typ)
    if has(n, 'pattern'):
        return typed(PATTERNS, typ)
    if has(n, 'mode'):
        return typed(MODES, typ)
    if has(n, 'period', 'resolution_unit', 'granularity', 'unit'):
        return typed(PERIODS, typ)
    if has(n, 'zone', 'tz'):
        return typed(ZONES, typ)
    if has(n, 'locale'):
        return typed(LOCALES, typ)
    for w, vals in WORDS.items():
        if has(n, w):
            return typed(vals, typ)
    if has(n, 'condition', 'expr', 'outcome', 'exposure', 'filter', 'canary', 'predicate',
           'where'):
        return typed([condition_for(n)] + BAD_CONDITIONS + [None, '=' + HUGE_TEXT], typ)
    if has(n, 'breakdown', 'latency'):
        return typed(['plan_tier', 'no_such_column', '1; SELECT 1', '', None], typ)
    if has(n, 'control'):
        return typed(['A', 'Z', '', None], typ)
    if has(n, 'cron', 'schedule'):
        return typed(['*/5 * * * *', 'not a schedule', '', None], typ)
    return typed(GENERIC_TEXT, typ)


def interval_cands(arg, typ):
    n = arg.name
    base = '1 day' if has(n, 'conversion', 'keep', 'horizon', 'within', 'every') else '1 hour'
    if has(n, 'resolution'):
        base = '1 day'
    return typed([base, '0', '-1 hour', '1 microsecond', '1 mon', '1000000 years',
                  '178000000 years', '-178000000 years', None], typ)


def int_cands(arg, typ, bits):
    n = arg.name
    base = '1'
    if has(n, 'window', 'gap', 'tolerance', 'within'):
        base = '3600'
    elif has(n, 'max_steps'):
        base = '20'
    elif has(n, 'steps', 'step'):
        base = '3'
    elif has(n, 'level'):
        base = '2'
    elif has(n, 'depth'):
        base = '3'
    hi = {16: '32767', 32: '2147483647', 64: '9223372036854775807'}[bits]
    lo = {16: '-32768', 32: '-2147483648', 64: '-9223372036854775808'}[bits]
    return typed([base, '0', '-1', '1', '2', '33', hi, lo, None], typ)


def ts_cands(arg, typ, tz):
    suffix = '+00' if tz else ''
    base = '2024-01-02 00:00:00' + suffix
    return typed([base, 'infinity', '-infinity', '0001-01-01 00:00:00' + suffix,
                  '294276-12-31 23:59:59' + suffix, '4713-01-01 00:00:00%s BC' % suffix,
                  '2024-01-01 00:00:00' + suffix, None], typ)


def array_text_cands(arg, typ):
    n = arg.name
    if has(n, 'step', 'exclu', 'condition', 'expr'):
        good = [condition_for(n, i) for i in range(3)]
        many = ["event = 'e%d'" % (i % 5 + 1) for i in range(33)]
        vals = ['=ARRAY[%s]' % ','.join(lit(c) for c in good), '{}', '{NULL}',
                '=ARRAY[%s]' % lit(good[0]),
                '=ARRAY[%s]' % ','.join(lit(c) for c in many[:32]),
                '=ARRAY[%s]' % ','.join(lit(c) for c in many),
                '=ARRAY[%s, %s]' % (lit(good[0]), lit('1')),
                '=ARRAY[%s, %s]' % (lit(good[0]), lit('true; DROP TABLE garden.f_normal')),
                '=ARRAY[%s, %s]' % (lit(good[0]), lit('no_such_column')),
                '=ARRAY[%s, NULL]' % lit(good[0]), None]
        return typed(vals, typ)
    if has(n, 'label'):
        return typed(['{a,b,c}', '{}', '{NULL,NULL,NULL}', '{a}', '=array_fill(%s::text, ARRAY[40])'
                      % lit('l'), None], typ)
    return typed(['{e1,e2,e3}', '{}', '{NULL}', '{e1,NULL,e1}', '=array_fill(%s::text, ARRAY[5000])'
                  % lit('e1'), '=ARRAY[%s]' % HUGE_TEXT, None], typ)


def array_int_cands(arg, typ):
    if has(arg.name, 'optional'):
        return typed(['{2}', '{}', '{1}', '{0}', '{99}', '{-1}', '{NULL}', '{2,2}', None], typ)
    return typed(['{1,0,1}', '{}', '{NULL}', '{-1}', '{2147483647,1}', '{1,NULL,1}',
                  '=array_fill(1, ARRAY[100000])', None], typ)


def bool_cands(arg, typ):
    n = arg.name
    if has(n, 'dry'):
        return typed(['true', 'false', None], typ)
    return typed(['true', 'false', None], typ)


def float_cands(arg, typ):
    return typed(['0.05', '0', '-1', '1', 'NaN', 'Infinity', '-Infinity', '1e308', None], typ)


def jsonb_cands(arg, typ):
    deep = '[' * 5000 + ']' * 5000
    return typed(['{"a": 1, "b": {"c": "x"}}', '{}', '[]', 'null', '1', '"s"',
                  '{"key.path": {"type": "string", "required": true}}',
                  '{"a": {"type": "bogus"}}', deep, None], typ)


def regclass_cands(arg, typ):
    rels = RELATIONS
    if has(arg.name, 'definition', 'view'):
        rels = ['garden.v_normal'] + [r for r in RELATIONS if r != 'garden.v_normal']
    return typed(rels, typ) + [Cand('NULL::regclass'), Cand("'999999'::oid::regclass"),
                                    Cand("'0'::oid::regclass")]


def range_array_cands(arg, typ):
    return typed(['{"[1,3]"}', '{}', '{empty}', '{"[0,99]"}', '{"(,)"}', '{NULL}',
                  '{"[2,3]","[1,2]"}', '{"[-5,-1]"}', None], typ)


def const_cands(arg):
    """Constant candidates for an argument, valid one first."""
    info = arg.info
    typ = arg.type
    tt = info['typtype']
    if info.get('labels'):
        return typed(list(info['labels']) + [None], typ)
    if tt == 'd' and info.get('base'):
        inner = Arg(arg.index, arg.name, {'type': info['base'], 'typtype': 'b',
                                          'category': info['category'], 'elem': None,
                                          'ext': False}, arg.kind, arg.variadic)
        return [Cand('(%s)::%s' % (c.sql, typ)) for c in const_cands(inner)]
    t = typ
    if t in ('text', 'character varying', 'name', 'citext'):
        return text_cands(arg, typ)
    if t == 'interval':
        return interval_cands(arg, typ)
    if t == 'bigint':
        return int_cands(arg, typ, 64)
    if t == 'integer':
        return int_cands(arg, typ, 32)
    if t == 'smallint':
        return int_cands(arg, typ, 16)
    if t in ('double precision', 'real', 'numeric'):
        return float_cands(arg, typ)
    if t == 'boolean':
        return bool_cands(arg, typ)
    if t == 'timestamp with time zone':
        return ts_cands(arg, typ, True)
    if t == 'timestamp without time zone':
        return ts_cands(arg, typ, False)
    if t == 'date':
        return typed(['2024-01-02', 'infinity', '-infinity', '0001-01-01', '5874897-12-31',
                      '4713-01-01 BC', None], typ)
    if t in ('jsonb', 'json'):
        return jsonb_cands(arg, typ)
    if t == 'regclass':
        return regclass_cands(arg, typ)
    if t in ('text[]', 'character varying[]', 'name[]'):
        return array_text_cands(arg, typ)
    if t in ('integer[]', 'bigint[]', 'smallint[]'):
        return array_int_cands(arg, typ)
    if t == 'boolean[]':
        return typed(['{true,false}', '{}', '{NULL}', None], typ)
    if t in ('int4range[]', 'int8range[]'):
        return range_array_cands(arg, typ)
    if t in ('int4range', 'int8range'):
        return typed(['[1,3]', 'empty', '(,)', '[-5,-1]', None], typ)
    if t == 'bytea':
        return [Cand("decode(repeat('a5', 32), 'hex')")] + \
            typed(['\\x00', '\\x', '\\x01ff00ff', '\\xffffffffffffffff', None], typ) + \
            [Cand("decode(repeat('ff', 100000), 'hex')")]
    if t == 'regtype':
        return typed(['boolean', 'text', 'timestamptz', None], typ)
    if t == 'regtype[]':
        return typed(['{boolean}', '{}', '{text,bigint}', None], typ)
    if t == 'uuid':
        return typed(['00000000-0000-0000-0000-000000000000', None], typ)
    if t == 'oid':
        return typed(['0', '1', '4294967295', None], typ)
    if t in ('anyelement', 'anycompatible', 'anynonarray', 'anycompatiblenonarray'):
        return [Cand("1"), Cand("'x'::text"), Cand('NULL::integer'), Cand("true"),
                Cand("now()")]
    if t in ('anyarray', 'anycompatiblearray'):
        return [Cand("'{1,2}'::int[]"), Cand("'{}'::text[]"), Cand('NULL::int[]')]
    if t == '"any"':
        return [Cand('true'), Cand('NULL::boolean'), Cand('1'), Cand("'x'::text")]
    if info.get('ext'):
        # A type of the extension: NULL and malformed text; producer calls
        # are added by the generator.
        return typed([None, '', 'x', '\\x00', '{}'], typ)
    if info['category'] == 'A' and info.get('elem'):
        return typed(['{}', None], typ)
    return typed([None], typ)


# Fixture columns usable for per-row aggregate arguments, by type.
ROW_COLUMNS = {
    'timestamp with time zone': ['e.ts', 'e.sent_at', 'e.received_at'],
    'timestamp without time zone': ['e.ts_plain'],
    'bigint': ['e.ts_epoch', 'e.seq', 'e.event_id'],
    'integer': ['e.status'],
    'text': ['e.event', 'e.user_id', 'e.endpoint'],
    'double precision': ['e.latency_ms'],
    'jsonb': ['e.payload'],
    'text[]': ['e.path'],
    'integer[]': ['e.levels'],
    'bigint[]': ['e.levels::bigint[]'],
    'interval': ['e.latency'],
    'date': ['e.day'],
}

# Argument names that are parameters of an aggregate (constant per call),
# not per-row values.
PARAMETRIC = ('window', 'pattern', 'mode', 'direction', 'base', 'period', 'zone', 'locale',
              'within', 'gap', 'tolerance', 'max_', 'key_name', 'resolution', 'horizon',
              'threshold', 'depth', 'split', 'min_', 'percentile', 'fraction', 'limit')


def row_cands(arg, cond_index):
    """Per-row candidates of an aggregate / window / row-wise argument."""
    t = arg.type
    n = arg.name
    if t == 'boolean' or t == '"any"':
        return [Cand("(e.event = 'e%d')" % (cond_index % 5 + 1), True),
                Cand('(e.event IS NULL)', True), Cand('(e.seq % 2 = 0)', True)]
    cols = list(ROW_COLUMNS.get(t, []))
    if not cols:
        return []
    # Prefer the column the argument's name points at.
    if t == 'bigint' and has(n, 'seq'):
        cols.sort(key=lambda c: c != 'e.seq')
    elif t == 'bigint' and has(n, 'id'):
        cols.sort(key=lambda c: c != 'e.event_id')
    elif t == 'text':
        want = 'e.' + column_for(n)
        if has(n, 'step', 'value', 'node', 'event', 'path'):
            want = 'e.event'
        if has(n, 'endpoint', 'url', 'route'):
            want = 'e.endpoint'
        cols.sort(key=lambda c: c != want)
    elif t == 'timestamp with time zone':
        want = 'e.ts'
        if has(n, 'sent'):
            want = 'e.sent_at'
        elif has(n, 'received'):
            want = 'e.received_at'
        cols.sort(key=lambda c: c != want)
    return [Cand(c, True) for c in cols]


class Fn:
    def __init__(self, d):
        self.d = d
        self.sig = d['sig']
        self.qname = d['qname']
        self.prokind = d['prokind']
        self.retset = d['proretset']
        self.aggkind = d.get('aggkind')
        self.ndirect = d.get('aggnumdirectargs') or 0
        names = d['argnames'] or []
        self.args = []
        n = len(d['args'])
        for i, info in enumerate(d['args']):
            nm = names[i] if i < len(names) else ''
            self.args.append(Arg(i, nm, info, self.prokind,
                                 d['variadic'] and i == n - 1))
        self.ndefaults = d['pronargdefaults'] or 0
        self.base_expr = None
        self.base_sql = None

    @property
    def is_agg(self):
        return self.prokind == 'a'

    @property
    def rowwise(self):
        """Arguments vary per row (aggregates and window functions)."""
        return self.prokind in ('a', 'w')


class Generator:
    def __init__(self, fns, max_per_function, seed, internal_max):
        self.fns = fns
        self.max = max_per_function
        self.internal_max = internal_max
        self.seed = seed
        self.producers = {}
        self.cands = {}

    def arg_cands(self, fn, arg):
        key = (fn.sig, arg.index)
        if key in self.cands:
            return self.cands[key]
        consts = const_cands(arg)
        if arg.info.get('ext') and arg.type in self.producers:
            consts = consts[:1] + self.producers[arg.type] + consts[1:]
        cond_index = arg.index
        rows = row_cands(arg, cond_index)
        param = has(arg.name, *PARAMETRIC)
        if fn.rowwise or fn.prokind == 'f':
            # Aggregates and window functions: per-row columns first unless the
            # name says it is a parameter.  Scalar functions: constants first,
            # then the same columns read from every fixture row.
            if fn.rowwise and rows and not param:
                cands = rows[:1] + consts + rows[1:]
            else:
                cands = consts + (rows if fn.prokind in ('a', 'w', 'f') else [])
        else:
            cands = consts
        self.cands[key] = cands
        return cands

    def variadic_forms(self, fn):
        """Alternatives for the variadic tail: lists of argument SQL, or a
        single 'VARIADIC <array>' string."""
        arg = fn.args[-1]
        elem = arg.info.get('elem') or arg.type
        forms = []
        is_bool = arg.type in ('"any"', 'boolean[]') or elem == 'boolean'
        if not is_bool:
            return forms
        row = fn.rowwise

        def cond(i):
            return "(e.event = 'e%d')" % (i % 5 + 1) if row else ('true' if i % 2 == 0 else 'false')
        for k in (0, 1, 2, 3, 32, 33):
            forms.append(('n%d' % k, [cond(i) for i in range(k)]))
        forms.append(('all_null', ['NULL::boolean'] * 3))
        forms.append(('variadic_null', 'VARIADIC NULL::boolean[]'))
        forms.append(('variadic_empty', "VARIADIC '{}'::boolean[]"))
        forms.append(('variadic_array', 'VARIADIC ARRAY[%s]' % ', '.join(cond(i) for i in range(3))))
        forms.append(('variadic_33', 'VARIADIC ARRAY[%s]' % ', '.join(cond(i) for i in range(33))))
        if row:
            forms.append(('variadic_ragged',
                          "VARIADIC CASE WHEN e.seq %% 2 = 0 THEN ARRAY[%s] ELSE ARRAY[%s] END"
                          % (cond(0), ', '.join(cond(i) for i in range(3)))))
        if arg.type == '"any"':
            forms.append(('any_int', ['1', '2']))
            forms.append(('any_text', ["'x'::text", "'y'::text"]))
        return forms

    def render(self, fn, vals, fixture, form):
        """The SQL of one call; vals: list of argument SQL (variadic tail may
        be a 'VARIADIC ...' string in place of several arguments)."""
        args = ', '.join(vals)
        reads_row = any('e.' in v for v in vals)
        fx = 'garden.%s e' % fixture
        if fn.prokind == 'p':
            return 'CALL %s(%s)' % (fn.qname, args)
        if fn.is_agg:
            if fn.aggkind in ('o', 'h'):
                direct = ', '.join(vals[:fn.ndirect])
                agg = ', '.join(vals[fn.ndirect:]) or '1'
                call = '%s(%s) WITHIN GROUP (ORDER BY %s)' % (fn.qname, direct, agg)
            else:
                call = '%s(%s)' % (fn.qname, args)
            if form == 'grouped':
                return ("SELECT string_agg(coalesce(r::text, '~'), ';' ORDER BY g) FROM "
                        "(SELECT e.user_id AS g, %s AS r FROM %s GROUP BY e.user_id) s" % (call, fx))
            if form == 'window' and fn.aggkind not in ('o', 'h'):
                return ("SELECT string_agg(coalesce(r::text, '~'), ';') FROM "
                        "(SELECT %s OVER (PARTITION BY e.user_id ORDER BY e.ts, e.event_id) AS r "
                        "FROM %s) s" % (call, fx))
            return 'SELECT (%s)::text FROM %s' % (call, fx)
        if fn.prokind == 'w':
            over = '()' if form == 'window_all' else '(PARTITION BY e.user_id ORDER BY e.ts, e.event_id)'
            return ("SELECT string_agg(coalesce(r::text, '~'), ';') FROM "
                    "(SELECT %s(%s) OVER %s AS r FROM %s) s" % (fn.qname, args, over, fx))
        call = '%s(%s)' % (fn.qname, args)
        if fn.retset:
            # A table function scans its relation once per call: calling it
            # for every fixture row only multiplies the same work, so it reads
            # arguments from the first few rows.
            if reads_row:
                rel, alias = fx.rsplit(' ', 1)
                fxl = '(SELECT * FROM %s LIMIT 2) %s' % (rel, alias)
            src = ('%s, LATERAL %s AS t' % (fxl, call)) if reads_row else ('%s AS t' % call)
            return ("SELECT count(*)::text || ' rows ' || coalesce(md5(string_agg(t::text, ',')), '') "
                    "FROM %s" % src)
        if fn.d['rettype'] == 'void':
            return 'SELECT %s::text%s' % (call, (' FROM ' + fx) if reads_row else '')
        if reads_row:
            return ("SELECT string_agg(coalesce((%s)::text, '~'), ';') FROM %s" % (call, fx))
        return 'SELECT (%s)::text' % call

    def calls_for(self, fn):
        cands = [self.arg_cands(fn, a) for a in fn.args]
        nargs = len(fn.args)
        variadic = fn.args and fn.args[-1].variadic
        vforms = self.variadic_forms(fn) if variadic else []
        fixed = nargs - 1 if vforms else nargs
        if any(not c for c in cands[:fixed]):
            return []
        out = []
        seen = set()
        cap = self.internal_max if fn.d['proname'].startswith('_') else self.max

        def add(form, vals, fixture='f_normal'):
            sql = self.render(fn, vals, fixture, form)
            if sql not in seen:
                seen.add(sql)
                out.append((form, sql))

        base_fixed = [c[0].sql for c in cands[:fixed]]
        base_var = vforms[3][1] if vforms else None   # three conditions

        def full(fixed_vals, var=None):
            v = base_var if var is None else var
            if not vforms:
                return list(fixed_vals)
            if isinstance(v, str):
                return list(fixed_vals) + [v]
            return list(fixed_vals) + list(v)

        base = full(base_fixed)
        fn.base_expr = None if fn.aggkind in ('o', 'h') else '%s(%s)' % (fn.qname, ', '.join(base))
        reads_row = fn.rowwise or any('e.' in x for x in base)
        fixtures = FIXTURES if reads_row else ['f_normal']
        # 1. The valid call on every fixture (and grouped / as a window).
        for fx in fixtures:
            add('base', base, fx)
        fn.base_sql = out[0][1] if out else None
        if fn.is_agg:
            add('grouped', base)
            add('grouped', base, 'f_nulls')
            add('window', base)
        if fn.prokind == 'w':
            add('window_all', base)
        # 2. Each candidate of each argument on its own.
        for i in range(fixed):
            for c in cands[i][1:]:
                vals = list(base_fixed)
                vals[i] = c.sql
                add('oat', full(vals))
        # Scalar functions: an argument read from the rows of every fixture.
        if fn.prokind == 'f':
            for i in range(fixed):
                rowc = [c for c in cands[i] if c.row]
                if rowc:
                    vals = list(base_fixed)
                    vals[i] = rowc[0].sql
                    for fx in FIXTURES:
                        add('rows', full(vals), fx)
        # 3. The variadic tail's shapes.
        for name, v in vforms:
            add('variadic_' + name if not name.startswith('variadic') else name, full(base_fixed, v))
            if fn.is_agg and name in ('n33', 'variadic_ragged', 'n0'):
                add('grouped', full(base_fixed, v))
        if variadic and not vforms:
            # Non-boolean variadic: the valid element repeated, and empty.
            for k in (0, 1, 2, 33):
                add('variadic_n%d' % k, list(base_fixed) + [cands[-1][0].sql] * k)
            add('variadic_null', list(base_fixed) + ['VARIADIC NULL::%s' % fn.args[-1].type])
        # 4. Only the arguments without defaults.
        if fn.ndefaults and not variadic:
            add('defaults', base_fixed[:nargs - fn.ndefaults])
        # 5. Seeded random combinations (also across fixtures).
        rng = random.Random(self.seed ^ zlib.crc32(fn.sig.encode()))
        attempts = 0
        while len(out) < cap and attempts < cap * 4:
            attempts += 1
            vals = [rng.choice(cands[i]).sql for i in range(fixed)]
            var = rng.choice(vforms)[1] if vforms else None
            add('random', full(vals, var), rng.choice(fixtures) if reads_row else 'f_normal')
        if fn.d['proname'].startswith('_'):
            # Internal helpers: NULL and edge values first (one at a time).
            out.sort(key=lambda x: x[0] not in ('oat', 'base'))
        return out[:cap]

    def generate(self):
        # Producer expressions for the extension's own types: the valid call
        # of every function returning that type, as a scalar subquery.
        for fn in self.fns:
            rt = fn.d['rettype']
            if fn.retset or fn.prokind not in ('f', 'a'):
                continue
            self.producers.setdefault(rt, [])
        per_fn = []
        for fn in self.fns:
            calls = self.calls_for(fn)
            per_fn.append((fn, calls))
            rt = fn.d['rettype']
            if calls and not fn.retset and fn.prokind in ('f', 'a') and fn.base_expr:
                if fn.is_agg:
                    expr = '(SELECT %s FROM garden.f_normal e)' % fn.base_expr
                else:
                    expr = '(SELECT %s%s)' % (fn.base_expr,
                                              ' FROM garden.f_normal e LIMIT 1'
                                              if 'e.' in fn.base_expr else '')
                self.producers[rt].append(Cand(expr))
        # Second pass for functions consuming the extension's types, now that
        # producers are known.
        if any(self.producers.values()):
            self.cands = {}
            per_fn = [(fn, self.calls_for(fn)) for fn in self.fns]
        # Interleave: first call of every function, then second calls, ...
        rows = []
        depth = max((len(c) for _, c in per_fn), default=0)
        for k in range(depth):
            for fn, calls in per_fn:
                if k < len(calls):
                    form, sql = calls[k]
                    rows.append((fn.sig, form, fn.prokind == 'p', sql))
        return rows


def copy_escape(s):
    return (s.replace('\\', '\\\\').replace('\t', '\\t').replace('\n', '\\n')
            .replace('\r', '\\r'))


def wait_ready(limit=120):
    # The postmaster needs a moment to notice a crashed backend.
    time.sleep(1)
    t0 = time.time()
    while time.time() - t0 < limit:
        p = subprocess.run(['pg_isready', '-q'], capture_output=True)
        if p.returncode == 0:
            # Recovery may still refuse connections briefly.
            q = subprocess.run(['psql', '-X', '-Atc', 'SELECT 1'], capture_output=True, text=True)
            if q.returncode == 0:
                return True
        time.sleep(0.5)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--extension', default='apivalue')
    ap.add_argument('--max-per-function', type=int, default=120)
    ap.add_argument('--seed', type=int, default=13)
    ap.add_argument('--timeout-ms', type=int, default=10000)
    ap.add_argument('--budget-s', type=int, default=240,
                    help='stop starting new calls after this many seconds')
    ap.add_argument('--out', default='test/out/garden')
    ap.add_argument('--internal-max', type=int, default=30,
                    help='calls per internal function ("_" names) that PUBLIC may execute; 0 skips them')
    ap.add_argument('--only', default=None, help='regex on the signature (debugging)')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    psql(['-f', os.path.join(HERE, 'setup.sql')])
    d = json.loads(query(CATALOG_SQL % lit(a.extension)))
    fns = []
    skipped_internal = 0
    for f in d:
        if f['proname'].startswith('_') and not (a.internal_max > 0 and f['public_exec']):
            continue
        if any(x['type'] in ('internal', 'trigger', 'event_trigger', 'language_handler',
                             'fdw_handler', 'index_am_handler', 'table_am_handler',
                             'tsm_handler', 'cstring')
               for x in f['args']) or f['rettype'] in ('trigger', 'event_trigger', 'internal'):
            skipped_internal += 1
            continue
        if a.only:
            if not re.search(a.only, f['sig']):
                continue
        fns.append(Fn(f))

    rows = Generator(fns, a.max_per_function, a.seed, a.internal_max).generate()

    # Set-up: functions that create what others look up (define_metric,
    # add_pseudonym_key, propose_event ...) run once with valid arguments,
    # committed, in name order.
    setup = [fn for fn in sorted(fns, key=lambda f: f.sig)
             if re.match(SETUP_RE, fn.d['proname']) and fn.base_sql]
    done = 0
    for fn in setup:
        sql = fn.base_sql if fn.prokind != 'p' else fn.base_sql
        p = psql(['-At', '-c', 'SELECT garden.setup(%s)' % lit(sql)], check=False)
        ok = p.returncode == 0 and p.stdout.strip() == 'ok'
        done += ok
        if not ok:
            print('garden: set-up call of %s did not succeed: %s'
                  % (fn.sig, (p.stdout.strip() or p.stderr.strip())[:200]), flush=True)
    if not wait_ready():
        print('garden: server not answering after set-up calls', flush=True)
        return 3
    buf = ''.join('%d\t%s\t%s\t%s\t%s\n' % (i + 1, copy_escape(s), form, 't' if c else 'f',
                                            copy_escape(sql))
                  for i, (s, form, c, sql) in enumerate(rows))
    psql(['-c', r'\copy garden.calls FROM STDIN'], input_text=buf)
    print('garden: %d functions of %s (%d taking internal/trigger types skipped), %d calls'
          % (len(fns), a.extension, skipped_internal, len(rows)), flush=True)

    # Run, resuming after crashes.
    t0 = time.time()
    crashes = 0
    next_id = 1
    total = len(rows)
    log = open(os.path.join(a.out, 'psql.log'), 'w')
    while next_id <= total:
        if time.time() - t0 > a.budget_s:
            break
        with tempfile.NamedTemporaryFile('w', suffix='.sql', delete=False) as f:
            f.write('SET statement_timeout = %d;\nSET client_min_messages = error;\n'
                    'SET synchronous_commit = off;\n' % a.timeout_ms)
            # Check the budget every few hundred calls.
            stop = min(total, next_id + 499)
            for i in range(next_id, stop + 1):
                f.write('SELECT garden.try(%d);\n' % i)
            path = f.name
        p = subprocess.run(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', path],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        os.unlink(path)
        log.write(p.stderr)
        if p.returncode == 0:
            next_id = stop + 1
            continue
        # The session died (or garden.try itself failed): find the call.
        if not wait_ready():
            print('garden: server did not come back after a failure', flush=True)
            return 3
        done = query('SELECT coalesce(max(id), 0) FROM garden.results WHERE id >= %d AND id <= %d'
                     % (next_id, stop)).strip()
        # Calls run in id order, so the first without a result was running.
        first_missing = query('SELECT min(i) FROM generate_series(%d, %d) i '
                              'WHERE NOT EXISTS (SELECT 1 FROM garden.results r WHERE r.id = i)'
                              % (next_id, stop)).strip()
        cid = int(first_missing) if first_missing else int(done) + 1
        crashes += 1
        msg = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else 'session ended'
        psql(['-c', "INSERT INTO garden.results (id, outcome, message) VALUES (%d, 'crash', %s) "
              "ON CONFLICT (id) DO NOTHING" % (cid, lit(msg[:500]))])
        print('garden: CRASH at call %d: %s' % (cid, msg), flush=True)
        next_id = cid + 1
    log.close()
    elapsed = time.time() - t0
    return summarize(a, total, elapsed)


SUMMARY_SQL = r"""
SELECT json_build_object(
  'run', count(r.id),
  'ok', count(*) FILTER (WHERE r.outcome = 'ok'),
  'clean', count(*) FILTER (WHERE r.outcome = 'error' AND r.sqlstate NOT LIKE 'XX%'
                            AND coalesce(r.message, '') <> ''),
  'xx', count(*) FILTER (WHERE r.outcome = 'error' AND r.sqlstate LIKE 'XX%'),
  'empty_msg', count(*) FILTER (WHERE r.outcome = 'error' AND coalesce(r.message, '') = ''),
  'oom', count(*) FILTER (WHERE r.outcome = 'error' AND r.sqlstate LIKE '53%'),
  'crash', count(*) FILTER (WHERE r.outcome = 'crash'),
  'timeout', count(*) FILTER (WHERE r.outcome = 'timeout'),
  'skipped', count(*) FILTER (WHERE r.outcome = 'skipped'),
  'long_msg', count(*) FILTER (WHERE r.outcome = 'error' AND length(r.message) > 2000))
FROM garden.calls c JOIN garden.results r USING (id)
"""

PER_FN_SQL = r"""
SELECT c.sig || E'\t' || count(*) || E'\t' || count(*) FILTER (WHERE r.outcome = 'ok') || E'\t'
       || count(*) FILTER (WHERE r.outcome = 'error') || E'\t'
       || count(*) FILTER (WHERE r.outcome NOT IN ('ok', 'error'))
       || E'\t' || coalesce(string_agg(DISTINCT r.sqlstate, ',' ORDER BY r.sqlstate), '')
FROM garden.calls c JOIN garden.results r USING (id)
GROUP BY c.sig ORDER BY c.sig
"""

FAIL_SQL = r"""
SELECT json_agg(json_build_object('id', c.id, 'sig', c.sig, 'outcome', r.outcome,
                                  'sqlstate', r.sqlstate, 'message', r.message,
                                  'context', left(r.context, 300),
                                  'sql', left(c.sql, 600)) ORDER BY c.id)
FROM garden.calls c JOIN garden.results r USING (id)
WHERE r.outcome IN ('crash', 'timeout')
   OR (r.outcome = 'error' AND (r.sqlstate LIKE 'XX%' OR r.sqlstate LIKE '53%'
                                OR coalesce(r.message, '') = ''))
"""


def summarize(a, total, elapsed):
    s = json.loads(query(SUMMARY_SQL))
    per = query(PER_FN_SQL)
    with open(os.path.join(a.out, 'per_function.tsv'), 'w') as f:
        f.write('signature\tcalls\tok\terrors\tother\tsqlstates\n' + per)
    fails = json.loads(query(FAIL_SQL).strip() or 'null') or []
    with open(os.path.join(a.out, 'failures.json'), 'w') as f:
        json.dump(fails, f, indent=1)
    # Error messages seen, one line per (function, sqlstate, message).
    msgs = query(r"""SELECT c.sig || E'\t' || r.sqlstate || E'\t' || count(*) || E'\t'
                           || replace(r.message, E'\n', ' ')
                     FROM garden.calls c JOIN garden.results r USING (id)
                     WHERE r.outcome = 'error'
                     GROUP BY c.sig, r.sqlstate, r.message ORDER BY 1""")
    with open(os.path.join(a.out, 'errors.tsv'), 'w') as f:
        f.write(msgs)
    for x in fails[:30]:
        print('garden: FAIL %s call %d (%s) %s %s\n    %s' % (
            x['outcome'], x['id'], x['sig'], x['sqlstate'] or '', (x['message'] or '')[:200],
            x['sql'][:300]), flush=True)
    unrun = total - s['run']
    print('garden: %d calls (%d run in %.0f s), %d ok, %d clean errors, %d XX000, %d crashes, '
          '%d timeouts, %d empty messages, %d out-of-memory, %d skipped, %d not run (budget); '
          '%d messages over 2000 characters (warning)'
          % (total, s['run'], elapsed, s['ok'], s['clean'], s['xx'], s['crash'], s['timeout'],
             s['empty_msg'], s['oom'], s['skipped'], unrun, s['long_msg']), flush=True)
    bad = s['xx'] + s['crash'] + s['timeout'] + s['empty_msg'] + s['oom']
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
