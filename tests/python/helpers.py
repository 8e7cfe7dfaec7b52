"""Helpers shared by the tests that build the warehouse with dbt in a subprocess."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from orchestration.arrival_batches import split_into_batches  # noqa: F401 (re-exported for the tests)
from orchestration.dbt_runner import dbt_env
from orchestration.warehouse import PostgresParams, Target, connect

if TYPE_CHECKING:
    import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT = str(Path(sys.executable).parent / "dbt")


# What a copy of the project for a test leaves out: environments, build output, warehouses, and the
# runtime folders of the PostgreSQL servers (live clusters), Dagster and the syncs.
PROJECT_COPY_IGNORE = (".venv", ".git", "target", "logs", "warehouse", "data", "dbt_packages", "__pycache__",
                       ".pytest_cache", ".postgres*", ".dagster", "sync_output", "data_docs")


def copy_project(destination: Path) -> Path:
    """A copy of the project's sources at `destination` (tests edit seeds or models in it)."""
    shutil.copytree(PROJECT_ROOT, destination, ignore=shutil.ignore_patterns(*PROJECT_COPY_IGNORE))
    return destination


def run_dbt(database: Path | Target, work: Path, *args: str, project: Path = PROJECT_ROOT,
            unit_tests: bool = False) -> str:
    """Run dbt against a DuckDB file (or any target) in a subprocess; fail the test with dbt's output
    when dbt fails.

    A `build` leaves dbt's unit tests out unless `unit_tests`: they check the models' SQL on fixed rows,
    not the warehouse's data, so every build would give the same answer (about a fifth of a sample
    build's node time). The demo's nightly job (test_pipeline, test_orchestration) runs them on DuckDB
    and test_postgres's build on PostgreSQL.
    """
    if args and args[0] == "build" and not unit_tests:
        args = (*args, "--exclude-resource-type", "unit_test")
    target = database if isinstance(database, Target) else Target(name="duckdb", kind="duckdb", duckdb_path=database)
    target_path = work / f"target_{project.name}"
    env = {
        **os.environ,
        **dbt_env(target),
        "DBT_TARGET_PATH": str(target_path),
        "DBT_LOG_PATH": str(work / "logs"),
    }
    cwd = project
    if target.kind == "duckdb" and target.duckdb_path is not None:
        # dbt keys its saved parse on the connection, the DuckDB path included: run from the file's folder
        # with a relative path, so warehouses of the same file name share one (see PartialParseCache).
        cwd = target.duckdb_path.parent
        cwd.mkdir(parents=True, exist_ok=True)
        env["SEGMENTATION_DUCKDB_PATH"] = target.duckdb_path.name
    state = PARTIAL_PARSE.state(project, target, args)
    PARTIAL_PARSE.seed(state, target_path)
    completed = subprocess.run(
        [DBT, *args, "--project-dir", str(project), "--profiles-dir", str(project)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
    )
    PARTIAL_PARSE.keep(state, target_path)
    assert completed.returncode == 0, completed.stdout[-4000:]
    return completed.stdout


class PartialParseCache:
    """dbt's saved parse (target/partial_parse.msgpack) shared between the tests' target folders.

    Every test warehouse builds into its own target folder, so without this each one's first dbt
    command parses the whole project (about 14 s, against 3 s for a partial parse), and a folder that
    alternates `--vars` parses in full at each change: about 100 full parses in a run of the suite.
    dbt saves one parse per folder and rejects it when the vars, the connection (DuckDB path or
    PostgreSQL database), dbt_project.yml or dbt's version changed; this keeps the last parse of each
    (project, connection, vars) in `folder`, shared by the xdist workers, and puts it in a target
    folder before a command. dbt still checks what it finds: a wrong one costs a full parse, never a
    wrong manifest.
    """

    def __init__(self) -> None:
        self.folder: Path | None = None  # set by conftest for the test session; None keeps dbt's own

    def state(self, project: Path, target: Target, args: Sequence[str]) -> str:
        import hashlib

        if target.kind == "duckdb" and target.duckdb_path is not None:
            where = ["duckdb", target.duckdb_path.name]
        else:
            pg = target.postgres
            where = [target.kind, pg.host, str(pg.port), pg.user, pg.dbname] if pg else [target.kind]
        cli_vars = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg in ("--vars", "--target")]
        return hashlib.sha256("\0".join([str(project), *where, *cli_vars]).encode()).hexdigest()[:24]

    def seed(self, state: str, target_path: Path) -> None:
        saved = self.folder and self.folder / f"{state}.msgpack"
        if saved and saved.exists():
            target_path.mkdir(parents=True, exist_ok=True)
            self._copy(saved, target_path / "partial_parse.msgpack")

    def keep(self, state: str, target_path: Path) -> None:
        parsed = target_path / "partial_parse.msgpack"
        if self.folder and parsed.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            self._copy(parsed, self.folder / f"{state}.msgpack")

    @staticmethod
    def _copy(source: Path, destination: Path) -> None:
        # Another worker may read or write the same file at once: copy aside, then rename into place.
        partial = destination.with_name(f".{destination.name}.{os.getpid()}")
        shutil.copyfile(source, partial)
        os.replace(partial, destination)


PARTIAL_PARSE = PartialParseCache()


def compiled_code(database: Path | Target, work: Path, names: Sequence[str], *args: str) -> dict[str, str]:
    """`dbt compile` of the nodes `names` (dbt runs the macros their SQL calls, e.g. the scoped tests'
    get_where_subquery) and each node's compiled SQL."""
    import json

    run_dbt(database, work, "compile", "--select", *names, *args)
    manifest = work / f"target_{PROJECT_ROOT.name}" / "manifest.json"
    nodes = json.loads(manifest.read_text())["nodes"].values()
    return {node["name"]: node["compiled_code"] for node in nodes if node["name"] in names}


# A consent violation for the guard to catch: a profile that opted out of email, put in activation_email.
OPTED_OUT_IN_ACTIVATION_EMAIL = """
    insert into activation.activation_email (activation_id, segment_name, profile_id, email, updated_at)
    select 'injected-opt-out', 'vip_rfm', consent.profile_id, 'someone@example.com', now()
    from profiles.profile_consent as consent
    where consent.purpose = 'email_marketing' and not consent.is_granted
    limit 1
"""

PG_SCRIPT = PROJECT_ROOT / "scripts" / "postgres.sh"


@dataclass(frozen=True)
class PostgresServer:
    """The project's own PostgreSQL server (scripts/postgres.sh), started for the test session."""

    env: dict[str, str]  # what the script needs to reach this cluster (folder, port)
    connection: dict[str, str]  # the SEGMENTATION_PG_* variables `scripts/postgres.sh env` prints

    @classmethod
    def start(cls, folder: Path, port: int) -> PostgresServer:
        env = {**os.environ, "SEGMENTATION_PG_DIR": str(folder), "SEGMENTATION_PG_PORT": str(port)}
        completed = subprocess.run([str(PG_SCRIPT), "up"], env=env, capture_output=True, text=True, timeout=900)
        assert completed.returncode == 0, completed.stderr[-4000:]
        printed = subprocess.run([str(PG_SCRIPT), "env"], env=env, capture_output=True, text=True, check=True)
        connection = dict(
            shlex.split(line.removeprefix("export "))[0].split("=", 1)
            for line in printed.stdout.splitlines() if line.startswith("export ")
        )
        return cls(env=env, connection=connection)

    def stop(self) -> None:
        subprocess.run([str(PG_SCRIPT), "down"], env=self.env, capture_output=True, timeout=120)

    def database(self, name: str, template: str | None = None) -> Target:
        """A fresh database `name` (a copy of `template` when given, else empty), as a postgres target.

        The script keeps an existing database when given no template; a test cluster outlives the
        session, so without a template the database is dropped and made again from template1.
        """
        args = [str(PG_SCRIPT), "database", name, template or "template1"]
        completed = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=300)
        assert completed.returncode == 0, completed.stderr[-4000:]
        return self.target(name)

    def target(self, dbname: str, user: str | None = None, password: str | None = None) -> Target:
        c = self.connection
        return Target(name="postgres", kind="postgres", postgres=PostgresParams(
            host=c["SEGMENTATION_PG_HOST"], port=int(c["SEGMENTATION_PG_PORT"]),
            user=user or c["SEGMENTATION_PG_USER"], password=password or c["SEGMENTATION_PG_PASSWORD"],
            dbname=dbname))


Query = Callable[..., list[tuple]]


@contextmanager
def open_query(target: Target) -> Iterator[Query]:
    """`query(sql, params=())` on one connection to `target`; `?` marks parameters on every engine."""
    with connect(target) as warehouse:
        def query(sql: str, params: Sequence = ()) -> list[tuple]:
            if params and warehouse.placeholder != "?":
                sql = sql.replace("%", "%%").replace("?", warehouse.placeholder)
            return warehouse.query(sql, params)

        yield query


def built_sample_warehouse(request: pytest.FixtureRequest, work: Path, name: str, *, people: int, seed: int, days: int,
                           build_args: Sequence[str] = (), builds: int = 1, duckdb_file: str = "warehouse.duckdb",
                           dbt_work: Path | None = None) -> Target:
    """A warehouse of generated sample data on the engine of `request.param` ("duckdb" or "postgres",
    a database `name` on the session's server, else work/`duckdb_file`), loaded and built `builds`
    times with `dbt build` (dbt's files in `dbt_work`, default `work`): the start of the module-scoped,
    engine-parametrised fixtures. The sample is generated into work/sample."""
    from datetime import date

    from orchestration.loader import load_folder
    from orchestration.sample_data import generate

    sample = work / "sample"
    generate(sample, people=people, seed=seed, end_date=date(2026, 11, 1), days=days)
    if request.param == "postgres":
        target = request.getfixturevalue("pg_server").database(name)
    else:
        target = Target(name="duckdb", kind="duckdb", duckdb_path=work / duckdb_file)
    load_folder(sample, target)
    for _ in range(builds):
        run_dbt(target, dbt_work or work, "build", *build_args)
    return target


def rebuilt_copy(request: pytest.FixtureRequest, source: Target, work: Path, name: str, *dbt_args: str,
                 dbt_work: Path | None = None, project: Path = PROJECT_ROOT) -> Target:
    """A copy of the warehouse `source` (work/`name`.duckdb, or a PostgreSQL database `name` made from
    `source`'s as a template) on which dbt ran `dbt_args` (a --full-refresh; dbt's files in `dbt_work`,
    default work/`name`): the answer an incremental run must equal."""
    if source.kind == "duckdb":
        copy = Target(name="duckdb", kind="duckdb", duckdb_path=work / f"{name}.duckdb")
        shutil.copyfile(source.duckdb_path, copy.duckdb_path)
    else:
        copy = request.getfixturevalue("pg_server").database(name, template=source.postgres.dbname)
    run_dbt(copy, dbt_work or work / name, *dbt_args, project=project)
    return copy


# The profile layer and every model it reads, with the data tests of those models only (cautious: not a
# test that also reads a segment model): what the profile tests build (the segments, activation and BI
# models after it are tested elsewhere).
PROFILE_LAYER = ("--select", "+path:models/profiles", "--indirect-selection", "cautious")

# The profile layer's tables, compared between an incremental and a full build.
PROFILE_TABLES = (
    "profiles.int_profiles__events", "profiles.sessions", "profiles.profile_event_daily",
    "profiles.int_profiles__identity", "profiles.int_profiles__orders", "profiles.int_profiles__attribute_candidates",
    "profiles.profile_consent_history", "profiles.profile_consent", "profiles.profile_traits", "profiles.profiles",
    "profiles.profiles_pseudonymised",
)
# Lineage columns: when a row was loaded or written, different between an incremental and a full build.
LINEAGE = frozenset({"_processed_at", "_loaded_at", "_max_loaded_at"})


def table_rows(target: Target, table: str, dropped: Collection[str] = LINEAGE) -> Counter:
    """The rows of `table` as a multiset of comparable tuples, without the `dropped` columns."""
    columns, rows = query_with_columns(target, f"select * from {table}")
    keep = [i for i, column in enumerate(columns) if column not in dropped]
    return Counter(tuple(comparable(row[i]) for i in keep) for row in rows)


def comparable(value: object) -> object:
    """A cell made comparable between an incremental and a full build and across engines: numbers
    rounded to 6 decimals (sums in another order differ in the last bits), timestamps without zone."""
    from datetime import datetime
    from decimal import Decimal

    if isinstance(value, float | Decimal):
        return round(float(value), 6)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return value


def query_with_columns(target: Target, sql: str) -> tuple[list[str], list[tuple]]:
    """The column names and rows of `sql` on `target` (DuckDB or PostgreSQL)."""
    with connect(target) as warehouse:
        if warehouse.kind == "duckdb":
            result = warehouse.connection.execute(sql)
            return [d[0] for d in result.description], result.fetchall()
        with warehouse.connection.cursor() as cursor:
            cursor.execute(sql)
            return [d[0] for d in cursor.description], cursor.fetchall()


def destinations_into(folder: Path, work: Path) -> Path:
    """A copy of the shipped destinations file whose file destinations write into `folder` (tests must
    not write into the project's sync_output/); point SEGMENTATION_DESTINATIONS at the returned path."""
    import yaml  # only the tests that sync need it

    config = yaml.safe_load((PROJECT_ROOT / "orchestration" / "destinations.yml").read_text())
    for destination in config["destinations"]:
        if destination["type"] == "file":
            destination["folder"] = str(folder)
    path = work / "destinations.yml"
    path.write_text(yaml.safe_dump(config))
    return path


ERASURE_TEXT_TYPES = {"VARCHAR", "JSON", "TEXT", "CHARACTER VARYING", "JSONB"}
# Pseudonymous records of an erasure (profile id and segment names only), documented in docs/privacy.md.
ERASURE_TOMBSTONES = {("privacy", "privacy_erased_profiles"), ("privacy", "privacy_erased_memberships")}


def person_identity(query: Query, profile_id: str) -> tuple[list[tuple[str, str]], list[int]]:
    """A profile's identifiers (type, value) in identity_map and their identity graph node ids: what
    person_hits looks for after the person's erasure."""
    identifiers = query(
        "select identifier_type, identifier_value from identity.identity_map where profile_id = ?", [profile_id])
    node_ids = [row[0] for row in query(
        "select node_id from identity.int_identity__identifiers "
        "where (identifier_type, identifier_value) in (select identifier_type, identifier_value "
        "from identity.identity_map where profile_id = ?)", [profile_id])]
    return identifiers, node_ids


def person_hits(target: Target, needles: list[tuple[str, str]], node_ids: list[int], profile_id: str) -> list[str]:
    """The erasure's proof scan (docs/privacy.md). Every table and view, every text column: does any of
    the person's identifiers appear, in any casing or phone formatting? Integer node-id columns: does any
    of their identity nodes remain?"""
    hits = []
    with open_query(target) as query:
        columns = query(
            "select table_schema, table_name, column_name, upper(data_type) from information_schema.columns "
            "where table_schema not in ('information_schema', 'pg_catalog')"
        )
        for schema, table, column, data_type in columns:
            relation = f'"{schema}"."{table}"'
            quoted = f'"{column}"'
            if data_type in ERASURE_TEXT_TYPES:
                quoted = f'cast("{column}" as varchar)'
                for identifier_type, value in needles:
                    if identifier_type == "phone":
                        digits = re.sub(r"\D", "", value)[-9:]
                        where = f"regexp_replace({quoted}, '[^0-9]', '', 'g') like '%{digits}%'"
                    else:
                        where = f"lower({quoted}) like '%{value.lower()}%'"
                    if query(f"select count(*) from {relation} where {where}")[0][0]:
                        hits.append(f"{schema}.{table}.{column}: {identifier_type}")
                if (schema, table) not in ERASURE_TOMBSTONES:
                    # The change feed keeps one "removed" row per segment the person left, so syncs can
                    # remove them downstream; any other row with their profile id is a leak.
                    removal = " and change_type <> 'removed'" if table == "segment_membership_changes" else ""
                    found = query(f"select count(*) from {relation} where {quoted} = ?{removal}", [profile_id])[0][0]
                    if found:
                        hits.append(f"{schema}.{table}.{column}: profile_id")
            elif data_type == "BIGINT" and node_ids:
                listed = ", ".join(str(node) for node in node_ids)
                if query(f"select count(*) from {relation} where {quoted} in ({listed})")[0][0]:
                    hits.append(f"{schema}.{table}.{column}: node id")
    return hits
