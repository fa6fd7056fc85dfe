/* SLURM through snakemake: the flags each snakemake version needs, the default resources that carry
 * the partition and account, what the remote offers (probe), and the run's own jobs in squeue. */
#pragma once

#include "ferry-common.h"
#include "remote.h"

G_BEGIN_DECLS

#define FERRY_SLURM_DEFAULT_JOBS 100

typedef struct
{
  guint jobs;      /* --jobs N; 0: FERRY_SLURM_DEFAULT_JOBS */
  char *partition; /* slurm_partition=, or NULL (SLURM's default partition) */
  char *account;   /* slurm_account=, or NULL: then never passed (no sacctmgr without accounting) */
  GStrv resources; /* --slurm-resources KEY=VALUE, in order */
} FerrySlurmOptions;

void ferry_slurm_options_clear (FerrySlurmOptions *opts);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (FerrySlurmOptions, ferry_slurm_options_clear)

/* Checks the options as the user gave them: a partition or account name SLURM could have, each
 * resource KEY=VALUE with KEY an identifier. FERRY_ERROR_USAGE naming the bad value. */
gboolean ferry_slurm_options_check (const FerrySlurmOptions *opts, GError **error);

/* What the remote offers, from one probe (ferry_slurm_probe_command). */
typedef struct
{
  char *snakemake_version; /* NULL: no snakemake on the remote PATH */
  int major, minor;
  gboolean executor_plugin; /* 8+: `--executor slurm` is available (snakemake-executor-plugin-slurm) */
  gboolean status_command;  /* the plugin takes --slurm-status-command (2.0.1+: sacct or squeue) */
  char *sbatch, *squeue, *scancel, *sinfo, *sacct; /* paths, or NULL when missing */
  int sacct_rc;      /* sacct's exit status when asked for nothing; -1 when not asked */
  char *sacct_error; /* its first line on stderr when it failed */
} FerrySlurmProbe;

void ferry_slurm_probe_clear (FerrySlurmProbe *probe);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (FerrySlurmProbe, ferry_slurm_probe_clear)

/* The /bin/sh script (one line) that prints the remote snakemake's version, where SLURM's commands
 * are, whether sacct answers (SLURM accounting), and, for snakemake 8+, its --help (which lists
 * the executors it has and the plugin's options). */
const char *ferry_slurm_probe_script (void);

/* Parses the probe script's output. */
gboolean ferry_slurm_probe_parse (const char *out, FerrySlurmProbe *probe, GError **error);

/* Whether snakemake's --help offers the slurm executor (8+: `--executor {...,slurm,...}`). */
gboolean ferry_slurm_help_has_executor (const char *help);

/* Whether ferry knows this snakemake (a --slurm run needs 7.19 to 9.x); else a clause saying why
 * not ("newer than ferry knows (7.19 to 9.x)"). */
gboolean ferry_slurm_version_known (const FerrySlurmProbe *probe, char **out_why);

/* How the run's snakemake will learn its SLURM jobs' states. */
typedef enum
{
  FERRY_SLURM_STATES_SACCT,         /* the plugin (8+) asks sacct, and SLURM accounting answers */
  FERRY_SLURM_STATES_SACCT_SCONTROL, /* snakemake 7: sacct, else scontrol */
  FERRY_SLURM_STATES_SQUEUE,        /* the plugin with --slurm-status-command squeue */
  FERRY_SLURM_STATES_STUCK,         /* the plugin asks sacct only, which fails: it never ends */
} FerrySlurmStates;

/* Decides it for the probed remote and the user's snakemake arguments (an explicit
 * --slurm-status-command wins). *out_add_squeue (optional): ferry must pass
 * `--slurm-status-command squeue` (a plugin that has it, no accounting, the user said nothing).
 * *out_text (optional): "squeue (no accounting: sacct failed: ...)", "sacct"... */
FerrySlurmStates ferry_slurm_job_states (const FerrySlurmProbe *probe,
                                         const char *const *user_args, gboolean *out_add_squeue,
                                         char **out_text);

/* The snakemake arguments for a run on SLURM with the probed snakemake:
 *   7.19 .. 7.x: --slurm --jobs N --max-status-checks-per-second 1
 *   8, 9:        --executor slurm --jobs N   (the plugin must be there)
 *                  [--slurm-status-command squeue]   (no accounting, unless user_args set it)
 * preceded, when there is any, by --default-resources slurm_partition='P' slurm_account='A' K=V...
 * (the options after it end its list, so targets may follow). user_args: the user's snakemake
 * arguments (may be NULL). A snakemake older than 7.19 or newer than ferry knows, a missing
 * snakemake or plugin, a plugin that would never see its jobs end, and a missing sbatch are errors
 * saying what to do; `host` names the remote. */
GStrv ferry_slurm_snakemake_args (const FerrySlurmOptions *opts, const FerrySlurmProbe *probe,
                                  const char *const *user_args, const char *host, GError **error);

/* Probes the remote (one command) and checks it can take a --slurm run: snakemake 7.19+ (8+ with
 * the plugin) and sbatch, squeue, scancel. */
gboolean ferry_slurm_probe (FerryRemote *remote, FerrySlurmProbe *probe, GCancellable *cancellable,
                            GError **error);

/* --- the run's jobs in the queue ------------------------------------------------------------- */

/* Whether a snakemake argv (as a run records it) submits to SLURM: --slurm, or --executor slurm
 * (-e slurm, --executor=slurm). */
gboolean ferry_slurm_argv_is_slurm (const char *const *argv);

typedef struct
{
  guint submitted; /* jobs the run's snakemake submitted (its log says so) */
  guint pending;   /* of those, pending in squeue */
  guint running;   /* running (or completing, configuring, suspended) */
  guint done;      /* submitted and no longer queued */
} FerrySlurmQueue;

/* The remote command (one /bin/sh line) that prints the lines of the run's log that name its SLURM
 * jobs, then the user's squeue (`%i|%t|%j`). log_path is relative to remote_dir (or absolute); NULL
 * means the newest snakemake log there (.snakemake/log/). */
char *ferry_slurm_queue_command (const char *remote_dir, const char *log_path);

/* Parses that output: the run's jobs are the ids its log says it submitted, and (snakemake 8+, whose
 * jobs are named after its run id) the jobs of that name. *out_queued (optional) gets the ids of
 * the run's jobs still in the queue. */
gboolean ferry_slurm_queue_parse (const char *out, FerrySlurmQueue *queue, GStrv *out_queued,
                                  GError **error);

/* Counts the run's jobs in the remote queue (log_path as for ferry_slurm_queue_command). */
gboolean ferry_slurm_queue (FerryRemote *remote, const char *remote_dir, const char *log_path,
                            FerrySlurmQueue *queue, GStrv *out_queued, GCancellable *cancellable,
                            GError **error);

/* "SLURM jobs: 1 pending, 2 running, 3 done" */
char *ferry_slurm_queue_describe (const FerrySlurmQueue *queue);

/* Cancels (scancel) the run's jobs still queued and waits, up to timeout_s, until squeue shows none
 * of them. *out_cancelled: how many were still there. A cancel needs this besides signalling
 * snakemake: snakemake 7 on SIGTERM waits for its running jobs to finish, and one started in the
 * background by a non-interactive sh ignores SIGINT (its handler, which would scancel, never runs). */
gboolean ferry_slurm_cancel_jobs (FerryRemote *remote, const char *remote_dir, const char *log_path,
                                  guint timeout_s,
                                  guint *out_cancelled, GCancellable *cancellable, GError **error);

G_END_DECLS

G_BEGIN_DECLS

/* --- what `check --host` learns about a remote --------------------------------------------- */

typedef struct
{
  char *name;
  gboolean is_default; /* sinfo marks it with '*' */
  char *avail;         /* up, down, drain, inact */
  char *time_limit;    /* as sinfo prints it: 1:00:00, 2-00:00:00, infinite */
  guint nodes;
  guint cpus_idle, cpus_total;
} FerrySlurmPartition;

typedef struct
{
  char *login_shell;     /* from the passwd entry, or NULL */
  FerrySlurmProbe probe; /* snakemake and where SLURM's commands are */
  /* Each SLURM command's exit status when asked something (-1: not asked) and its first line. */
  int sinfo_rc, squeue_rc, sbatch_rc, scancel_rc;
  char *sinfo_line, *squeue_line, *sbatch_line, *scancel_line;
  GPtrArray *partitions; /* FerrySlurmPartition, as sinfo lists them */
  char *dir;             /* the remote dir, or its nearest existing parent */
  gboolean dir_is_parent;
  gint64 dir_avail_kb;   /* free space there; -1 unknown */
  int min_job_age;       /* slurmctld's MinJobAge in seconds (how long squeue shows an ended job);
                          * -1 unknown */
} FerryRemoteReport;

void ferry_remote_report_clear (FerryRemoteReport *report);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (FerryRemoteReport, ferry_remote_report_clear)

/* The /bin/sh script (one line) that answers for `check --host`, for remote_dir. */
char *ferry_remote_report_script (const char *remote_dir);
gboolean ferry_remote_report_parse (const char *out, FerryRemoteReport *report, GError **error);
/* Runs the script on the remote and parses its answer. */
gboolean ferry_remote_report (FerryRemote *remote, const char *remote_dir, FerryRemoteReport *report,
                              GCancellable *cancellable, GError **error);
/* snakemake-executor-plugin-slurm 2.x reads job states with squeue only while MinJobAge is at least
 * three times its first pause (40 s by default); below that it goes back to sacct. */
#define FERRY_SLURM_SQUEUE_MIN_JOB_AGE 120

/* The default partition (marked by sinfo), or NULL. */
const FerrySlurmPartition *ferry_remote_report_default_partition (const FerryRemoteReport *report);

G_END_DECLS
