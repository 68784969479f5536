"""Every table and column named in the raw SQL of ``adjudication/*.py`` and ``claimflow/*.py`` exists in the
SQLAlchemy models (``claimflow.db.models``), so a renamed or misspelt column fails here instead of on the
first night that runs that query.

Why a small parser and not a SQL grammar: our raw SQL has one style — uppercase keywords, lowercase
snake_case names, ``FROM table alias`` / ``JOIN table alias``, qualified ``alias.column`` references,
``INSERT INTO table (columns)`` and ``UPDATE table SET column = …`` — and the pieces we cannot know
statically are f-string holes. What is checked, per string literal (f-string holes become an opaque
token): every table after ``FROM``/``JOIN``/``INTO``/``UPDATE``; every ``alias.column`` whose alias is bound
in the same string to a model table; every ``INSERT`` column list and ``UPDATE … SET`` target. Exempt:
temporary tables ``cf_*`` (and columns read through their aliases), CTE names, derived tables
``(SELECT …) x``, table functions ``json_each(…)``, catalog tables (:data:`CATALOG`), names built by a
hole. Docstrings are not SQL.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (*sorted((ROOT / "adjudication").glob("*.py")), *sorted((ROOT / "claimflow").glob("*.py")))

HOLE = "\x00"
"""Stands for an f-string hole: never part of a name, so a name next to a hole is not checked."""

#: Tables that exist without a model: the databases' own catalogs.
CATALOG = frozenset({"sqlite_master", "sqlite_schema", "sqlite_sequence", "pg_class", "pg_namespace", "pg_roles",
                     "pg_stat_user_tables", "pg_settings", "pg_proc", "pg_database", "pg_tables", "pg_views",
                     "pg_indexes", "pg_type", "pg_stats", "pg_locks", "pg_stat_activity", "pg_attribute",
                     "pg_largeobject_metadata", "pg_class_info", "alembic_version"})  # fmt: skip

_NAME = r"[a-z_][a-z0-9_]*"
_SQL = re.compile(r"\b(SELECT|INSERT INTO|UPDATE|DELETE FROM)\b|\b(FROM|JOIN)\s+[a-z_]")
_KEYWORD_AFTER = re.compile(r"\b(FROM|JOIN|INTO|UPDATE)\s+")
_QUALIFIED = re.compile(rf"(?<![\w.{HOLE}])({_NAME})\.({_NAME})\b(?![\w{HOLE}(])")
_CTE = re.compile(
    rf"(?:\bWITH(?:\s+RECURSIVE)?|,)\s+({_NAME})(?:\s*\([^)]*\))?\s+AS\s+(?:NOT\s+)?(?:MATERIALIZED\s+)?\("
)
_DERIVED = re.compile(rf"\)\s+(?:AS\s+)?({_NAME})\b")
_QUOTED = re.compile(r"'(?:[^']|'')*'")


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def model_columns() -> dict[str, frozenset[str]]:
    from claimflow.db.models import Base

    return {t.name: frozenset(c.name for c in t.columns) for t in Base.metadata.tables.values()}


def sql_strings(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every string literal that looks like SQL; f-string holes become :data:`HOLE`."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    inner: set[int] = set()  # parts of an f-string, and error messages (``raise X("… FROM …")``)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            inner.update(id(v) for v in node.values)
        elif isinstance(node, ast.Raise):
            inner.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in docstrings or id(node) in inner:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else HOLE for v in node.values)
        else:
            continue
        if _SQL.search(text):
            yield node.lineno, text


def _split_top(text: str) -> list[str]:
    """``text`` split at commas outside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _until_close(text: str, start: int) -> str:
    """The text from ``start`` (just after an opening parenthesis) to its closing parenthesis."""
    depth = 1
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    return text[start:]


def check_sql(sql: str, tables: Mapping[str, frozenset[str]]) -> list[str]:
    """Problems in one SQL string: unknown tables, and unknown columns of known tables."""
    sql = _QUOTED.sub("''", sql)
    problems: list[str] = []
    exempt = {m.group(1) for m in _CTE.finditer(sql)} | {m.group(1) for m in _DERIVED.finditer(sql)}
    aliases: dict[str, set[str | None]] = {}

    def bind(name: str, table: str | None) -> None:
        aliases.setdefault(name, set()).add(table)

    def known(table: str) -> str | None:
        if table.startswith("cf_") or table in exempt or table in CATALOG:
            return None
        if table not in tables:
            problems.append(f"unknown table {table}")
            return None
        return table

    for m in _KEYWORD_AFTER.finditer(sql):
        keyword, pos = m.group(1), m.end()
        # FROM a x, b y: a comma list after FROM; one table after JOIN/INTO/UPDATE
        while True:
            t = re.compile(rf"({_NAME}(?:\.{_NAME})?)(?=[\s,)(;]|$)").match(sql, pos)
            if t is None or (pos > 0 and sql[pos - 1] == HOLE) or sql[t.end() : t.end() + 1] == HOLE:
                break
            name, after = t.group(1), t.end()
            is_function = sql[after : after + 1] == "("
            target = None if is_function or "." in name else known(name)
            a = re.compile(rf"\s+(?:AS\s+)?(?!(?:ON|WHERE|SET|USING|LEFT|RIGHT|INNER|OUTER|CROSS|FULL|JOIN|GROUP|ORDER"
                           rf"|UNION|LIMIT|HAVING|VALUES|SELECT|DEFAULT|RETURNING|EXCEPT|INTERSECT|WINDOW|FOR)\b)"
                           rf"({_NAME})\b(?!\s*\()").match(sql, after)  # fmt: skip
            bind(name, target)
            if a is not None:
                bind(a.group(1), target)
                after = a.end()
            if keyword == "INTO" and target is not None:
                cols = re.compile(r"\s*\(").match(sql, after)
                if cols is not None:
                    for col in _split_top(_until_close(sql, cols.end())):
                        col = col.strip()
                        if re.fullmatch(_NAME, col) and col not in tables[target]:
                            problems.append(f"unknown column {target}.{col}")
            if keyword == "UPDATE" and target is not None:
                s = re.compile(r"\s+SET\s+").match(sql, after)
                if s is not None:
                    body = re.split(r"\b(?:WHERE|FROM|RETURNING)\b", sql[s.end() :], maxsplit=1)[0]
                    for assignment in _split_top(body):
                        col = re.match(rf"\s*({_NAME})\s*=", assignment)
                        if col is not None and col.group(1) not in tables[target]:
                            problems.append(f"unknown column {target}.{col.group(1)}")
            if keyword != "FROM":
                break
            comma = re.compile(r"\s*,\s*").match(sql, after)
            if comma is None:
                break
            pos = comma.end()

    for m in _QUALIFIED.finditer(sql):
        alias, column = m.groups()
        bound = aliases.get(alias)
        if not bound or None in bound:
            continue  # not bound here (a fragment), or a temp table / derived table / function
        if not any(column in tables[t] for t in bound if t is not None):
            problems.append(
                f"unknown column {'/'.join(sorted(t for t in bound if t))}.{column} ({alias}.{column})"
            )
    return problems


def check_file(path: Path, tables: Mapping[str, frozenset[str]]) -> list[Finding]:
    rel = str(path.relative_to(ROOT))
    return [
        Finding(rel, line, problem)
        for line, sql in sql_strings(path.read_text(encoding="utf-8"))
        for problem in check_sql(sql, tables)
    ]


def test_raw_sql_names_exist_in_the_models() -> None:
    tables = model_columns()
    findings = [f for path in SOURCES for f in check_file(path, tables)]
    for f in findings:
        print(f)
    assert not findings, "\n".join(map(str, findings))


def test_the_scan_sees_the_sql() -> None:
    """Guard against a checker that passes because it reads nothing."""
    strings = [s for path in SOURCES for _, s in sql_strings(path.read_text(encoding="utf-8"))]
    assert len(strings) > 200
    assert any("INSERT INTO ledger_entries" in s for s in strings)


TOY = {
    "claims": frozenset({"id", "claim_number", "payer_id", "status"}),
    "payers": frozenset({"id", "name"}),
}


def test_checker_catches_a_misspelt_column() -> None:
    assert check_sql("SELECT c.claim_numbr FROM claims c JOIN payers p ON p.id = c.payer_id", TOY) == [
        "unknown column claims.claim_numbr (c.claim_numbr)"
    ]
    assert (
        check_sql("SELECT c.claim_number, p.name FROM claims c JOIN payers AS p ON p.id = c.payer_id", TOY)
        == []
    )


def test_checker_catches_tables_insert_and_update_columns() -> None:
    assert check_sql("SELECT x.id FROM claim x", TOY) == ["unknown table claim"]
    assert check_sql("INSERT INTO claims (id, claim_nmber) SELECT id, n FROM cf_new", TOY) == [
        "unknown column claims.claim_nmber"
    ]
    assert check_sql("UPDATE claims SET status = 'paid', stauts = NULL WHERE id = :id", TOY) == [
        "unknown column claims.stauts"
    ]
    assert check_sql(
        "SELECT c.id, p.name FROM claims c, payers p WHERE p.id = c.payer_id AND c.bogus = 1", TOY
    ) == ["unknown column claims.bogus (c.bogus)"]


def test_checker_exempts_what_it_cannot_know() -> None:
    # temporary tables, derived tables, CTEs, functions, holes, quoted text, and aliases bound elsewhere
    assert check_sql("SELECT b.whatever FROM cf_post_batch b JOIN claims c ON c.id = b.claim_id", TOY) == []
    assert check_sql("SELECT s.total FROM (SELECT SUM(1) AS total FROM claims) s", TOY) == []
    assert check_sql("WITH open AS (SELECT id FROM claims) SELECT o.id FROM open o", TOY) == []
    assert check_sql("SELECT j.value FROM json_each(:x) j", TOY) == []
    assert check_sql(f"SELECT t.anything FROM {HOLE} t WHERE 'c.nope' <> ''", TOY) == []
    assert check_sql("c.nothing = 1 AND p.nope IS NULL", TOY) == []


def test_sql_strings_skips_docstrings_and_error_messages_and_reads_f_strings() -> None:
    source = "\n".join(
        [
            '"""Module: SELECT x FROM nowhere."""',
            'q = f"SELECT c.id FROM {table} c WHERE c.id IN {ids}"',
            'raise ValueError("run DELETE FROM patient_keys, then reconcile")',
        ]
    )
    assert list(sql_strings(source)) == [(2, f"SELECT c.id FROM {HOLE} c WHERE c.id IN {HOLE}")]
