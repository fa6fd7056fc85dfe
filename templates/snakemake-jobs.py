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


# Snakemake 7 reads each Snakefile through smart_open, asking it first whether the name is a local
# file, and importing smart_open imports every transport it has (azure, boto3...): 0.4 of the 0.7
# CPU-seconds of a dry run. A plain local name (no scheme, no compressed extension) is answered here
# as smart_open would answer it (scheme "file", the path with ~ expanded; the file opened as it is);
# any other still goes to smart_open.
def _plain_local(name):
    import urllib.parse

    return (
        isinstance(name, str)
        and not urllib.parse.urlsplit(name).scheme
        and not name.endswith((".gz", ".bz2", ".xz", ".zst", ".lzma"))
    )


try:
    import collections as _collections
    import sys as _sys

    from snakemake import common as _common
    from snakemake import sourcecache as _sourcecache

    _parse_uri = _common.parse_uri
    _open_source = _sourcecache.SourceCache._open
    _Uri = _collections.namedtuple("Uri", ["scheme", "uri_path"])

    def _parse_local_uri(path_or_uri):
        if _plain_local(path_or_uri):
            return _Uri("file", os.path.expanduser(path_or_uri))
        return _parse_uri(path_or_uri)

    def _open_local_source(self, source_file, mode, encoding=None):
        path = source_file.get_path_or_uri()
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if type(source_file) is not _sourcecache.LocalSourceFile or not _plain_local(path):
            return _open_source(self, source_file, mode, encoding)
        try:
            return open(os.path.expanduser(path), mode, encoding=None if "b" in mode else encoding)
        except Exception as e:
            raise _sourcecache.WorkflowError("Failed to open source file {}".format(path), e)

    _sourcecache.SourceCache._open = _open_local_source
    for _name, _module in list(_sys.modules.items()):
        if _name.startswith("snakemake") and getattr(_module, "parse_uri", None) is _parse_uri:
            _module.parse_uri = _parse_local_uri
except Exception:  # another snakemake layout: it asks smart_open, as before
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
