"""The files a torchvision dataset keeps on disk: which ones, where, how to fetch them, and the
errors when they are missing or corrupt (a clear error, never silent garbage)."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


class DatasetNotFound(FileNotFoundError):
    """The dataset's files are not on disk and were not (or could not be) downloaded."""


class DatasetCorrupt(RuntimeError):
    """The dataset's files are on disk but truncated, unreadable or fail their checksum."""


@dataclass(frozen=True)
class DatasetFiles:
    """The files ``names`` in ``folder``; torchvision's class ``dataset`` downloads them into ``data_dir``."""

    dataset: str
    data_dir: str
    folder: Path
    names: tuple[str, ...]

    @property
    def fetch_command(self) -> str:
        """A shell command that downloads the files with torchvision."""
        name = self.dataset
        code = f"from torchvision.datasets import {name}; {name}({self.data_dir!r}, download=True)"
        return f'python -c "{code}"'

    def missing(self) -> list[str]:
        return [name for name in self.names if not (self.folder / name).is_file()]

    def not_found(self, reason: str) -> DatasetNotFound:
        return DatasetNotFound(
            f"{self.dataset} not found in {self.folder} (data.data_dir: {self.data_dir}): {reason}. "
            f"Expected the files {', '.join(self.names)} there. "
            f"Fetch them with\n    {self.fetch_command}\n"
            "or run with data.download true on a machine that can reach the internet."
        )

    def corrupt(self, names: Sequence[str], cause: object) -> DatasetCorrupt:
        return DatasetCorrupt(
            f"{self.dataset} file(s) {', '.join(names)} in {self.folder} are corrupt or truncated "
            f"({cause}). Delete them and fetch them again with\n    {self.fetch_command}"
        )

    def require(self) -> None:
        """Raises ``DatasetNotFound`` unless every file is there."""
        missing = self.missing()
        if missing:
            if len(missing) == len(self.names):
                what = "none of its files is there"
            else:
                what = f"missing {', '.join(missing)}"
            raise self.not_found(f"{what} (nothing is downloaded when data.download is false)")

    def fetch(self, download: Callable[[], object]) -> None:
        """Runs ``download`` unless every file is there; a failed download raises ``DatasetNotFound``."""
        if not self.missing():
            return
        try:
            download()
        except Exception as exc:  # no network, a mirror down, a bad archive: all mean "not here"
            raise self.not_found(f"downloading failed ({type(exc).__name__}: {exc})") from exc
        missing = self.missing()
        if missing:
            raise self.not_found(f"the download did not produce {', '.join(missing)}")
