"""A result table written to the file the user named with `--out`: its suffix picks the format."""

from __future__ import annotations

from pathlib import Path

from liverbench.errors import ConfigError

TABLE_SUFFIXES = (".csv", ".txt", ".parquet")


def check_table_path(out: str) -> Path:
    """The path, if its suffix is one we write; commands call this before any work."""
    path = Path(out)
    if path.suffix not in TABLE_SUFFIXES:
        raise ConfigError(f"--out {out!r}: use a .csv or .parquet file name")
    return path


def write_table(df, out: str) -> None:
    """Write a DataFrame without its index: Parquet for .parquet, CSV otherwise."""
    path = check_table_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)
