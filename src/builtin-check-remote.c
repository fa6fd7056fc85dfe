/* ferry check --host / --instance: the remote's snakemake, SLURM, disk and login shell, one line each. */
#include <stdlib.h>

#include "ferry-builtins.h"
#include "core/slurm.h"
#include "core/snakemake.h"

typedef enum
{
  RCHECK_OK,
  RCHECK_WARN,
  RCHECK_FAIL,
} RCheckStatus;

typedef struct
{
  guint n_failed;
  GString *fixes;
} RChecks;

static void rcheck (RChecks *checks, RCheckStatus status, const char *what, const char *fix,
                    const char *fmt, ...) G_GNUC_PRINTF (5, 6);

/* Prints one line (as the local check does); a failure's fix goes into the last line. */
static void
rcheck (RChecks *checks, RCheckStatus status, const char *what, const char *fix, const char *fmt,
        ...)
{
  static const char *const labels[] = { "ok  ", "warn", "FAIL" };
  g_autofree char *text = NULL;
  va_list ap;

  va_start (ap, fmt);
  text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_print ("%s %s: %s\n", labels[status], what, text);
  if (status != RCHECK_FAIL)
    return;
  checks->n_failed++;
  if (fix != NULL && strstr (checks->fixes->str, fix) == NULL)
    g_string_append_printf (checks->fixes, "%s%s", checks->fixes->len ? "; " : "", fix);
}

/* The remote snakemake's version, whether ferry supports it, and how a --slurm run starts it. */
static void
check_snakemake (RChecks *checks, const FerrySlurmProbe *p, gboolean slurm)
{
  RCheckStatus no_slurm = slurm ? RCHECK_FAIL : RCHECK_WARN;
  g_autofree char *why = NULL;

  if (p->snakemake_version == NULL)
    rcheck (checks, RCHECK_FAIL, "snakemake",
            "install snakemake on the remote (or put it on the PATH of non-interactive ssh sessions)",
            "not found on the PATH of a non-interactive ssh session");
  else if (ferry_snakemake_support (p->major, p->minor) == FERRY_SNAKEMAKE_UNKNOWN)
    {
      ferry_slurm_version_known (p, &why);
      rcheck (checks, no_slurm, "snakemake",
              "use a snakemake ferry knows on the remote (7.19 to 9.x) for --slurm",
              "%s (not supported: %s; a plain run starts it as it is, --slurm refuses it)",
              p->snakemake_version, why);
    }
  else if (p->major >= 8 && p->executor_plugin)
    rcheck (checks, RCHECK_OK, "snakemake", NULL, "%s (supported; --slurm runs it with --executor slurm)",
            p->snakemake_version);
  else if (p->major >= 8)
    rcheck (checks, no_slurm, "snakemake",
            "install snakemake-executor-plugin-slurm next to the remote snakemake",
            "%s (supported, but without snakemake-executor-plugin-slurm: no --executor slurm)",
            p->snakemake_version);
  else if (ferry_slurm_version_known (p, NULL))
    rcheck (checks, RCHECK_OK, "snakemake", NULL, "%s (supported; --slurm runs it with --slurm)",
            p->snakemake_version);
  else
    rcheck (checks, no_slurm, "snakemake",
            "upgrade the remote snakemake to 7.19 or later to submit to SLURM",
            "%s runs, but cannot submit to SLURM (--slurm needs 7.19 or later)",
            p->snakemake_version);
}

/* How a --slurm run's snakemake will learn that its jobs ended: without accounting, only a plugin
 * that reads squeue ever sees them end. */
static void
check_job_states (RChecks *checks, const FerryRemoteReport *r, gboolean slurm)
{
  const FerrySlurmProbe *p = &r->probe;
  g_autofree char *text = NULL;
  FerrySlurmStates states;

  /* Moot while snakemake cannot submit, or SLURM does not answer at all. */
  if (p->snakemake_version == NULL || !ferry_slurm_version_known (p, NULL)
      || (p->major >= 8 && !p->executor_plugin) || p->squeue == NULL || r->squeue_rc != 0)
    return;
  states = ferry_slurm_job_states (p, NULL, NULL, &text);
  if (states == FERRY_SLURM_STATES_STUCK)
    rcheck (checks, slurm ? RCHECK_FAIL : RCHECK_WARN, "job states",
            "upgrade snakemake-executor-plugin-slurm on the remote (2.0.1 or later reads job states"
            " with --slurm-status-command squeue)",
            "%s: a --slurm run would never end", text);
  else if (states == FERRY_SLURM_STATES_SQUEUE && r->min_job_age >= 0
           && r->min_job_age < FERRY_SLURM_SQUEUE_MIN_JOB_AGE)
    /* The plugin then goes back to sacct, which fails here. */
    rcheck (checks, RCHECK_WARN, "job states", NULL,
            "%s, but MinJobAge is %d s, under the %d s the plugin needs to keep to squeue: a --slurm"
            " run may never end (ask the admins for accounting, or a MinJobAge of %d s or more)",
            text, r->min_job_age, FERRY_SLURM_SQUEUE_MIN_JOB_AGE, FERRY_SLURM_SQUEUE_MIN_JOB_AGE);
  else
    rcheck (checks, RCHECK_OK, "job states", NULL, "%s", text);
}

static void
check_command (RChecks *checks, const char *name, const char *path, int rc, const char *line,
               gboolean essential)
{
  const char *fix = "load SLURM's commands in non-interactive ssh sessions (or check the cluster's"
                    " slurmctld)";

  if (path == NULL)
    rcheck (checks, essential ? RCHECK_FAIL : RCHECK_WARN, name, fix, "not found");
  else if (rc == 0)
    rcheck (checks, RCHECK_OK, name, NULL, "%s%s%s", path, line && *line ? ": " : "",
            line ? line : "");
  else if (g_str_equal (name, "sbatch"))
    /* --test-only reached the controller, which refused a job without options (no default
     * partition, an account required...): runs need --partition or --account. */
    rcheck (checks, RCHECK_WARN, name, NULL, "%s: a job without options is refused: %s", path,
            line ? line : "(no message)");
  else
    rcheck (checks, essential ? RCHECK_FAIL : RCHECK_WARN, name, fix, "%s does not answer (exit %d)%s%s",
            path, rc, line && *line ? ": " : "", line ? line : "");
}

static char *
human_kb (gint64 kb)
{
  return g_format_size_full ((guint64) kb * 1024, G_FORMAT_SIZE_DEFAULT);
}

gboolean
ferry_check_remote (FerryInvocation *inv, const char *host, const char *remote_dir, gboolean slurm,
                    GCancellable *c, GError **error)
{
  g_autoptr(FerryRemote) remote = NULL;
  g_autofree char *dir = NULL;
  g_autoptr(GError) local_error = NULL;
  g_auto(FerryRemoteReport) r = { 0 };
  g_autoptr(GString) fixes = g_string_new (NULL);
  RChecks checks = { 0, fixes };
  const FerrySlurmProbe *p = &r.probe;
  gboolean has_slurm, essential;
  const FerrySlurmPartition *part;
  g_autofree char *again = NULL;

  if (!ferry_invocation_open_state (inv, FALSE, FALSE, error))
    return FALSE;
  remote = ferry_remote_open (inv->state, host, inv->ssh_user,
                              (const char *const *) inv->ssh_options, error);
  if (remote == NULL)
    return FALSE;
  remote->verbose = inv->verbose;
  remote->log = ferry_print_log;
  remote->log_data = inv;
  dir = remote_dir ? g_strdup (remote_dir) : ferry_remote_default_dir (inv->name);
  again = host ? g_strdup_printf ("ferry check --host %s", host) : g_strdup ("ferry check --instance");

  if (!ferry_remote_report (remote, dir, &r, c, &local_error))
    {
      ferry_remote_close (remote);
      rcheck (&checks, RCHECK_FAIL, "connection", NULL, "%s", local_error->message);
      return ferry_throw (error, FERRY_ERROR_FAILED,
                          "cannot reach %s: fix the ssh settings (--ssh-user, --ssh-option), then run"
                          " %s again",
                          remote->host, again);
    }
  ferry_remote_close (remote);
  rcheck (&checks, RCHECK_OK, "connection", NULL, "%s", remote->host);

  if (r.login_shell == NULL)
    rcheck (&checks, RCHECK_WARN, "login shell", NULL, "unknown (no passwd entry)");
  else
    rcheck (&checks, RCHECK_OK, "login shell", NULL, "%s (ferry's commands run under /bin/sh)",
            r.login_shell);
  check_snakemake (&checks, p, slurm);

  has_slurm = p->sbatch || p->squeue || p->scancel || p->sinfo;
  essential = slurm || has_slurm;
  if (!has_slurm)
    rcheck (&checks, slurm ? RCHECK_FAIL : RCHECK_WARN, "slurm",
            "run --slurm needs a SLURM login node, with sbatch, squeue, scancel and sinfo on the PATH"
            " of non-interactive ssh sessions",
            slurm ? "no sbatch, squeue, scancel or sinfo on the PATH"
                  : "no sbatch, squeue, scancel or sinfo (fine for a plain ssh host; --slurm needs them)");
  else
    {
      check_command (&checks, "sinfo", p->sinfo, r.sinfo_rc, r.sinfo_rc == 0 ? NULL : r.sinfo_line,
                     essential);
      check_command (&checks, "squeue", p->squeue, r.squeue_rc, NULL, essential);
      check_command (&checks, "sbatch", p->sbatch, r.sbatch_rc, r.sbatch_line, essential);
      check_command (&checks, "scancel", p->scancel, r.scancel_rc, r.scancel_line, essential);
      check_job_states (&checks, &r, slurm);
      part = ferry_remote_report_default_partition (&r);
      if (part != NULL)
        rcheck (&checks, g_str_equal (part->avail, "up") ? RCHECK_OK : RCHECK_WARN,
                "default partition", NULL,
                "%s (%s, time limit %s, %u node%s, %u CPUs, %u idle)", part->name, part->avail,
                part->time_limit, part->nodes, part->nodes == 1 ? "" : "s", part->cpus_total,
                part->cpus_idle);
      else if (r.sinfo_rc == 0)
        rcheck (&checks, RCHECK_WARN, "default partition", NULL,
                "none (%u partition%s): pass --partition to ferry run --slurm",
                r.partitions->len, r.partitions->len == 1 ? "" : "s");
    }

  if (r.dir_avail_kb < 0)
    rcheck (&checks, RCHECK_WARN, "free space", NULL, "unknown in %s", r.dir ? r.dir : dir);
  else
    {
      g_autofree char *size = human_kb (r.dir_avail_kb);
      /* Under 1 GB a workflow's inputs and outputs rarely fit. */
      rcheck (&checks, r.dir_avail_kb < 1024 * 1024 ? RCHECK_WARN : RCHECK_OK, "free space", NULL,
              "%s in %s%s", size, r.dir ? r.dir : "?",
              r.dir_is_parent ? " (the remote dir's nearest existing parent)" : "");
    }

  if (checks.n_failed > 0)
    return ferry_throw (error, FERRY_ERROR_FAILED,
                        "%u essential check%s failed on %s: %s; then run %s again",
                        checks.n_failed, checks.n_failed == 1 ? "" : "s", remote->host,
                        fixes->str, again);
  return TRUE;
}
