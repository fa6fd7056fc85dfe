# ferry's logger plugin for snakemake 9 (`--logger ferry`, with this directory's parent on
# PYTHONPATH for ferry's dry runs only): each job_info record goes to records.job, as snakemake 7
# and 8 records do through templates/snakemake-jobs.py. Nothing is installed into the user's Python.
from snakemake_interface_logger_plugins.base import LogHandlerBase

from . import records


class LogHandler(LogHandlerBase):
    """Writes the dry run's job records for ferry; snakemake's own output is left as it is."""

    def emit(self, record):
        if str(getattr(record, "event", "")) != "job_info":
            return
        resources = getattr(record, "resources", None)
        records.job(
            getattr(record, "jobid", None),
            getattr(record, "rule_name", None),
            getattr(record, "input", None),
            getattr(record, "output", None),
            getattr(record, "log", None),
            getattr(record, "threads", None),
            resources,
        )

    @property
    def writes_to_stream(self):
        return False

    @property
    def writes_to_file(self):
        return False

    # No filter: a --quiet among the run's arguments must not hide a job from ferry.
    @property
    def has_filter(self):
        return True

    @property
    def has_formatter(self):
        return True

    @property
    def needs_rulegraph(self):
        return False
