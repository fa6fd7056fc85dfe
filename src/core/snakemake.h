/* The local snakemake: its version, and a target's plan (the jobs that would run, their input
 * closure, their outputs, the workflow's own files), read as JSON job records, never as text. */
#pragma once

#include "ferry-common.h"

G_BEGIN_DECLS

/* The --cores of the plan's dry run, which caps each job's threads. */
#define FERRY_PLAN_CORES "1024"

/* The newest major release ferry knows: a newer one is used as this one, and `check` says so. */
#define FERRY_SNAKEMAKE_NEWEST_MAJOR 9

/* `snakemake --version` as major.minor (and the whole string), kept per executable in the user's
 * cache dir (keyed by path, inode, size and mtime). Missing snakemake: "snakemake is not
 * installed". */
gboolean ferry_snakemake_version (int *out_major, int *out_minor, char **out_version,
                                  GCancellable *cancellable, GError **error);

/* A version string's major and minor ("9.16.3" -> 9, 16). */
gboolean ferry_snakemake_parse_version (const char *text, int *out_major, int *out_minor);

typedef enum
{
  FERRY_SNAKEMAKE_SUPPORTED, /* 7.19 up to FERRY_SNAKEMAKE_NEWEST_MAJOR */
  FERRY_SNAKEMAKE_TOO_OLD,   /* before 7.19 (no --slurm; ferry is tested from 7.19) */
  FERRY_SNAKEMAKE_UNKNOWN,   /* newer than ferry knows */
} FerrySnakemakeSupport;

FerrySnakemakeSupport ferry_snakemake_support (int major, int minor);

/* The arguments among `args` (what a user gave after `--`) that shape the DAG: --config,
 * --configfile, --snakefile, --directory, --forcerun, --forceall, --force, --until, --omit-from,
 * --allowed-rules, --rerun-triggers, --rerun-incomplete, --ignore-incomplete, --batch, --notemp,
 * --set-threads, --max-threads, --set-resources, --default-resources, --set-scatter, --cores (each
 * with the values that follow it). Only these reach the local dry run; the remote run gets all of them. */
GStrv ferry_snakemake_dag_args (const char *const *args);

/* What the jobs that would run ask for, from their threads and resources. */
typedef struct
{
  guint threads;       /* the most threads a job asks for (as capped by the dry run's --cores) */
  gint64 mem_mb;       /* the most memory a job asks for, MB (mem_mb, mem_mib, mem_gb, mem="100G"); 0: none */
  gint64 disk_mb;      /* the sum of the jobs' disk (disk_mb, disk_gb, disk="1T"...), MB; 0: none */
  gint64 runtime_min;  /* the longest runtime given, minutes; 0: none */
  guint gpus;          /* the most GPUs a job asks for (gpu, gpus, nvidia_gpu) */
  gboolean nvidia;     /* asked for as nvidia_gpu */
} FerryJobNeeds;

typedef struct
{
  guint n_jobs;   /* jobs that would run */
  GStrv workflow; /* the workflow's own files (snakefiles, scripts, envs, config), relative */
  GStrv inputs;   /* existing inputs of those jobs that none of them makes (directories whole) */
  GStrv outputs;  /* what those jobs make (directory() outputs as the directory) */
  GStrv outside;  /* needed inputs outside the workflow directory (as snakemake names them) */
  FerryJobNeeds needs;
} FerryPlan;

void ferry_plan_free (FerryPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryPlan, ferry_plan_free)

/* Asks the local snakemake (a dry run in the current directory, read through ferry's log-handler
 * script on 7 and 8, its logger plugin on 9) which jobs would run for `targets` (files or rules).
 * Those of `extra_args` that shape the DAG (ferry_snakemake_dag_args) go to snakemake before the
 * targets (e.g. --forceall, --configfile F). Snakemake's own error (no Snakefile, unknown target,
 * syntax error) is the message of a FERRY_ERROR_CHILD. */
FerryPlan *ferry_snakemake_plan (const char *const *targets, const char *const *extra_args,
                                 GCancellable *cancellable, GError **error);

/* The plan for sending TARGET elsewhere: the jobs that would run, or, when TARGET is up to date
 * here, every job of it (--forceall), so the remote gets what it needs to make TARGET itself.
 * `extra_args` (run's snakemake arguments: --config, --forcerun...) shape the DAG here as there. */
FerryPlan *ferry_snakemake_plan_remote (const char *const *targets, const char *const *extra_args,
                                        GCancellable *cancellable, GError **error);

/* Builds a plan from job records (JSON lines, as the log handler writes them); `workdir` decides
 * what is inside the workflow and `exists` (NULL: the file system) which inputs exist. Exposed for
 * the unit tests and the fuzzer. */
typedef gboolean (*FerryExistsFunc) (const char *path, gpointer user_data);
FerryPlan *ferry_snakemake_plan_from_records (const char *records, gsize len, const char *workdir,
                                              FerryExistsFunc exists, gpointer user_data,
                                              GError **error);

/* Snakemake's resource values. A size ("100G", "1.5 TB", "500MiB"; a bare number is bytes, as
 * snakemake reads mem="...") in MB, rounded up. */
gboolean ferry_snakemake_parse_size_mb (const char *text, gint64 *out_mb);
/* A runtime string ("90m", "2h", "1.5 days"; a bare number is seconds, as snakemake reads it) in
 * minutes, rounded up. */
gboolean ferry_snakemake_parse_runtime_min (const char *text, gint64 *out_min);
/* Folds one job's "threads" and "resources" record members into `needs`: memory, runtime and GPUs
 * as the largest, disk as the sum. Values that are not understood ("<TBD>") are left out. */
void ferry_snakemake_needs_add (FerryJobNeeds *needs, json_t *threads, json_t *resources);

/* The most telling line(s) of snakemake's stderr: its error line and what follows it. */
char *ferry_snakemake_error_summary (const char *err);

/* A failed snakemake (`what`: "snakemake", "snakemake --archive") as one line: its exit and the
 * telling line(s) of its output. Always FALSE. */
gboolean ferry_snakemake_throw (const char *what, int wait_status, const char *output,
                                GError **error);

G_END_DECLS
