# ferry's log handler for snakemake 7 and 8 (--log-handler-script): snakemake calls log_handler(msg)
# with each of its records, and the job_info ones go to ferry's records (written as for snakemake 9,
# see python/snakemake_logger_plugin_ferry/records.py).
import importlib.util
import os

_spec = importlib.util.spec_from_file_location(
    "ferry_snakemake_records",
    os.path.join(
        os.path.dirname(os.path.abspath(__file__)),
        "python",
        "snakemake_logger_plugin_ferry",
        "records.py",
    ),
)
records = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(records)


def log_handler(msg):
    if msg.get("level") != "job_info":
        return
    records.job(
        msg.get("jobid"),
        msg.get("name"),
        msg.get("input"),
        msg.get("output"),
        msg.get("log"),
        msg.get("threads"),
        msg.get("resources"),
    )
