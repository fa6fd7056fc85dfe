# ferry's log handler for snakemake (--log-handler-script, snakemake 7 and 8).
#
# Snakemake calls log_handler(msg) with each of its records. This writes the structured ones ferry
# needs as JSON lines to the file named by $FERRY_JOBS_FILE, so ferry never splits the human-readable
# dry-run text:
#   {"job": {"id": N, "rule": "...", "input": [...], "output": [...], "log": [...],
#            "threads": N, "resources": {"mem_mb": 1000, "mem": "10G", ...}}}        one per job
#   {"sources": [...]}   at exit: the workflow's own files (snakefiles, scripts, conda envs,
#                        config files, and what git tracks), as snakemake's --archive takes them
# File names go through as they are (UTF-8, spaces, commas, quotes).
import atexit
import json
import os

_out = open(os.environ["FERRY_JOBS_FILE"], "w", encoding="utf-8", errors="surrogateescape")
_dags = []


def _emit(obj):
    _out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    _out.flush()


try:
    from snakemake import dag as _dag_module

    _dag_init = _dag_module.DAG.__init__

    def _remember_dag(self, *args, **kwargs):
        _dag_init(self, *args, **kwargs)
        _dags.append(self)

    _dag_module.DAG.__init__ = _remember_dag
except Exception:  # another snakemake layout: the jobs still come through, the sources do not
    pass


def _strings(values):
    return [str(v) for v in (values or [])]


def _resources(values):
    # Snakemake 7 and 8 pass a Resources namedlist; keep what JSON holds (numbers, strings: a
    # "<TBD>" of snakemake 8's dry run stays a string) and drop the private _cores and _nodes.
    out = {}
    try:
        items = list(values.items()) if values is not None else []
    except Exception:
        return out
    for key, value in items:
        key = str(key)
        if key.startswith("_"):
            continue
        if isinstance(value, bool) or value is None:
            continue
        out[key] = value if isinstance(value, (int, float)) else str(value)
    return out


def _threads(value):
    try:
        return int(value)
    except Exception:
        return None


def log_handler(msg):
    if msg.get("level") != "job_info":
        return
    _emit(
        {
            "job": {
                "id": msg.get("jobid"),
                "rule": str(msg.get("name")),
                "input": _strings(msg.get("input")),
                "output": _strings(msg.get("output")),
                "log": _strings(msg.get("log")),
                "threads": _threads(msg.get("threads")),
                "resources": _resources(msg.get("resources")),
            }
        }
    )


@atexit.register
def _sources():
    files = set()
    for dag in _dags:
        try:
            files.update(str(f) for f in dag.get_sources())
        except Exception:
            pass
    if _dags:
        _emit({"sources": sorted(files)})
    _out.close()
