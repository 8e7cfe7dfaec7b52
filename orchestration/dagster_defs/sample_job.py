"""Optional job: write deterministic sample data into the landing folder (the landing sensor then loads it)."""

from datetime import date

from dagster import Config, OpExecutionContext, job, op

from orchestration.dagster_defs.resources import LandingResource
from orchestration.sample_data import generate


class SampleDataConfig(Config):
    people: int = 10_000
    seed: int = 42
    end_date: str | None = None  # YYYY-MM-DD; default today (UTC)
    file_format: str = "parquet"  # parquet, csv or jsonl


@op
def generate_sample_files(context: OpExecutionContext, config: SampleDataConfig, landing: LandingResource) -> None:
    """Generate sample raw files (one per contract table, with a manifest and a ground-truth folder)."""
    folder = landing.path()
    manifest = generate(
        folder,
        people=config.people,
        seed=config.seed,
        end_date=date.fromisoformat(config.end_date) if config.end_date else None,
        file_format=config.file_format,  # type: ignore[arg-type]
        progress=lambda item, done, total: context.log.debug(f"generate {done:,}/{total:,} {item}"),
    )
    rows = sum(table["rows"] for table in manifest["tables"].values())
    context.log.info(f"generated {rows:,} raw rows for {config.people:,} people (seed {config.seed}) in {folder}")


def build_sample_data_job(tags: dict[str, str]):
    @job(name="generate_sample_data", tags=tags,
         description="Write sample data for `people` people (seed `seed`) into the landing folder.")
    def generate_sample_data() -> None:
        generate_sample_files()

    return generate_sample_data
