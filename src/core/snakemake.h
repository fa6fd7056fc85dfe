/* The local snakemake: its version, and a target's plan (the jobs that would run, their input
 * closure, their outputs, the workflow's own files), read as JSON job records, never as text. */
#pragma once

#include "ferry-common.h"

G_BEGIN_DECLS

/* `snakemake --version` as major.minor (and the whole string). Missing snakemake: "snakemake is not
 * installed". */
gboolean ferry_snakemake_version (int *out_major, int *out_minor, char **out_version,
                                  GCancellable *cancellable, GError **error);

typedef struct
{
  guint n_jobs;   /* jobs that would run */
  GStrv workflow; /* the workflow's own files (snakefiles, scripts, envs, config), relative */
  GStrv inputs;   /* existing inputs of those jobs that none of them makes (directories whole) */
  GStrv outputs;  /* what those jobs make (directory() outputs as the directory) */
  GStrv outside;  /* needed inputs outside the workflow directory (as snakemake names them) */
} FerryPlan;

void ferry_plan_free (FerryPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryPlan, ferry_plan_free)

/* Asks the local snakemake (a dry run in the current directory, with ferry's log-handler script)
 * which jobs would run for `targets` (files or rules). `extra_args` go to snakemake before the
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

/* The most telling line(s) of snakemake's stderr: its error line and what follows it. */
char *ferry_snakemake_error_summary (const char *err);

/* A failed snakemake (`what`: "snakemake", "snakemake --archive") as one line: its exit and the
 * telling line(s) of its output. Always FALSE. */
gboolean ferry_snakemake_throw (const char *what, int wait_status, const char *output,
                                GError **error);

G_END_DECLS
