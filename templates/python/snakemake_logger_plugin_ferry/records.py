# ferry's job records, written the same way whatever snakemake reads them through: snakemake 7 and 8
# call templates/snakemake-jobs.py (--log-handler-script), snakemake 9 this package's LogHandler
# (--logger ferry). Both hand each job_info record here as a dict.
#
# What goes to the file named by $FERRY_JOBS_FILE, as JSON lines, so ferry never splits the
# human-readable dry-run text:
#   {"job": {"id": N, "rule": "...", "input": [...], "output": [...], "log": [...],
#            "threads": N, "resources": {"mem_mb": 1000, "mem": "10G", ...}}}        one per job
#   {"sources": [...]}   at exit: the workflow's own files (snakefiles, scripts, conda envs,
#                        config files, and what git tracks), as snakemake's --archive takes them
# File names go through as they are (UTF-8, spaces, commas, quotes). A job comes through once,
# even where snakemake hands the same record over twice (8 registers the handler twice).
import atexit
import json
import os
import threading

_out = open(os.environ["FERRY_JOBS_FILE"], "w", encoding="utf-8", errors="surrogateescape")
_lock = threading.Lock()
_dags = []
_seen = set()


def _emit(obj):
    line = json.dumps(obj, ensure_ascii=False) + "\n"
    with _lock:
        if not _out.closed:
            _out.write(line)
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


# Snakemake annotates the file names of a job record for people ("x.fifo (pipe)", "y (update)"):
# the record gets the plain name of every local file instead. Names snakemake rewrites on purpose
# (a storage query, a cached source, a checkpoint's <TBD>) stay as snakemake gives them. The
# function's signature differs between releases; the files are its first argument, or its second
# when snakemake 7 passes the job first.
try:
    from snakemake import jobs as _jobs_module

    _format_files = _jobs_module.format_files

    def _plain_format_files(*args, **kwargs):
        io = args[1] if len(args) >= 3 else args[0]
        shown = list(_format_files(*args, **kwargs))
        files = list(io)
        if len(files) != len(shown):
            return shown
        out = []
        for f, s in zip(files, shown):
            name = str(f)
            if isinstance(s, str) and s != name and s.startswith(name + " (") and s.endswith(")"):
                s = name
            out.append(s)
        return out

    _jobs_module.format_files = _plain_format_files
except Exception:  # another snakemake layout: the names come through as snakemake shows them
    pass


# Snakemake reads each Snakefile through smart_open, asking it first whether the name is a local
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
        try:
            path = source_file.get_path_or_uri()
        except TypeError:  # snakemake 9 asks whether secrets may show
            path = source_file.get_path_or_uri(secret_free=False)
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
    # Snakemake 7 and 8 pass a Resources namedlist, 9 a ResourceList: keep what JSON holds
    # (numbers, strings: a "<TBD>" of a dry run stays a string) and drop the private _cores and
    # _nodes.
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


def job(jobid, rule, input, output, log, threads, resources):
    """One job_info record, whichever snakemake gave it."""
    key = (jobid, str(rule))
    if jobid is not None:
        with _lock:
            if key in _seen:
                return
            _seen.add(key)
    _emit(
        {
            "job": {
                "id": jobid,
                "rule": str(rule),
                "input": _strings(input),
                "output": _strings(output),
                "log": _strings(log),
                "threads": _threads(threads),
                "resources": _resources(resources),
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
    with _lock:
        _out.close()
