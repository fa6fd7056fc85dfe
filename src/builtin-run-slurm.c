/* ferry run --slurm: the SLURM options of run, and the snakemake flags the remote's version needs. */
#include "core/pool.h"
#include "ferry-builtins.h"
#include "core/slurm.h"

#include <string.h>

static gboolean opt_slurm;
static int opt_jobs;
static char *opt_partition;
static char *opt_account;
static char **opt_resources;

static GOptionEntry slurm_entries[] = {
  { "slurm", 0, 0, G_OPTION_ARG_NONE, &opt_slurm, "Submit the jobs to SLURM from the remote (a login node)", NULL },
  { "jobs", 0, 0, G_OPTION_ARG_INT, &opt_jobs, "SLURM jobs at once (default 100)", "N" },
  { "partition", 0, 0, G_OPTION_ARG_STRING, &opt_partition, "SLURM partition (default: the cluster's default)", "P" },
  { "account", 0, 0, G_OPTION_ARG_STRING, &opt_account, "SLURM account (default: none passed)", "A" },
  { "slurm-resources", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_resources, "A default resource for every job, e.g. mem_mb=4000 or runtime=60 (repeatable)", "KEY=VALUE" },
  { NULL }
};

GOptionGroup *
ferry_run_slurm_group (void)
{
  GOptionGroup *group = g_option_group_new ("slurm", "SLURM options (run on a cluster's login node):",
                                            "Show the SLURM options", NULL, NULL);

  g_option_group_add_entries (group, slurm_entries);
  return group;
}

gboolean
ferry_run_slurm_enabled (void)
{
  return opt_slurm;
}

static void
slurm_options (FerrySlurmOptions *o)
{
  o->jobs = opt_jobs > 0 ? (guint) opt_jobs : 0;
  o->partition = g_strdup (opt_partition);
  o->account = g_strdup (opt_account);
  o->resources = g_strdupv (opt_resources);
}

gboolean
ferry_run_slurm_check (GOptionContext *context, GError **error)
{
  g_auto(FerrySlurmOptions) o = { 0 };
  g_autoptr(GError) local_error = NULL;
  const char *stray = opt_jobs ? "--jobs"
                      : opt_partition ? "--partition"
                      : opt_account ? "--account"
                      : opt_resources ? "--slurm-resources"
                                      : NULL;

  if (!opt_slurm && stray != NULL)
    return ferry_usage_error (context, error, "%s goes with --slurm", stray);
  if (opt_jobs < 0 || opt_jobs > 100000)
    return ferry_usage_error (context, error, "--jobs takes a number from 1 to 100000, not %d", opt_jobs);
  slurm_options (&o);
  if (!ferry_slurm_options_check (&o, &local_error))
    return ferry_usage_error (context, error, "%s", local_error->message);
  return TRUE;
}

/* The probe is a step of the pool, started while the local snakemake computes the DAG: the remote
 * snakemake's start-up (a second or more on a busy login node) then costs nothing. */
typedef struct
{
  FerryRemote *remote;
  FerrySlurmProbe probe;
} ProbeTask;

static FerryPool *probe_pool;
static ProbeTask probe_task;

static gboolean
probe_step (gpointer data, GCancellable *cancellable, GError **error)
{
  ProbeTask *t = data;
  return ferry_slurm_probe (t->remote, &t->probe, cancellable, error);
}

void
ferry_run_slurm_probe_start (FerryRemote *remote, GCancellable *c)
{
  if (!opt_slurm || probe_pool != NULL)
    return;
  probe_task.remote = remote;
  probe_pool = ferry_pool_new (0, c);
  ferry_pool_add (probe_pool, "the SLURM probe", probe_step, &probe_task, NULL, NULL);
  ferry_pool_start (probe_pool);
}

/* Waits for the probe; FALSE with its error when it failed. */
static gboolean
probe_wait (GError **error)
{
  g_autoptr(FerryPool) pool = g_steal_pointer (&probe_pool);
  return ferry_pool_run (pool, error);
}

void
ferry_run_slurm_probe_finish (void)
{
  if (probe_pool == NULL)
    return;
  probe_wait (NULL);
  ferry_slurm_probe_clear (&probe_task.probe);
}

GStrv
ferry_run_slurm_argv (FerryRemote *remote, const char *const *sm_argv, gboolean dry_run,
                      GCancellable *c, GError **error)
{
  g_auto(FerrySlurmOptions) o = { 0 };
  g_auto(FerrySlurmProbe) probe = { 0 };
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) flags = NULL;
  guint i;

  slurm_options (&o);
  if (probe_pool != NULL)
    {
      if (!probe_wait (error))
        {
          ferry_slurm_probe_clear (&probe_task.probe);
          return NULL;
        }
      probe = probe_task.probe;
      memset (&probe_task.probe, 0, sizeof probe_task.probe);
    }
  else if (dry_run)
    {
      /* Nothing is asked of the remote: show what snakemake 7.19+ would get. */
      probe.snakemake_version = g_strdup ("7.19");
      probe.major = 7;
      probe.minor = 19;
      probe.sbatch = g_strdup ("sbatch");
      probe.squeue = g_strdup ("squeue");
      probe.scancel = g_strdup ("scancel");
    }
  else if (!ferry_slurm_probe (remote, &probe, c, error))
    return NULL;
  flags = ferry_slurm_snakemake_args (&o, &probe, sm_argv, remote->host, error);
  if (flags == NULL)
    return NULL;
  /* After `snakemake --cores N`, before the user's arguments (which win) and `-- TARGET...`. */
  for (i = 0; sm_argv[i] != NULL && i < 3; i++)
    g_strv_builder_add (b, sm_argv[i]);
  g_strv_builder_addv (b, (const char **) flags);
  g_strv_builder_addv (b, (const char **) sm_argv + i);
  return g_strv_builder_end (b);
}

/* --- runs on the remote: follow, status, cancel -------------------------------------------------- */

/* The run's log (its snakemake's output), relative to the remote dir. */
static char *
run_log (FerryRun *run)
{
  return g_strdup_printf (".ferry/runs/%s/log", run->id);
}

static gboolean
run_is_slurm (FerryRun *run)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;
  json_t *v;
  size_t i;

  if (run == NULL || run->record == NULL)
    return FALSE;
  json_array_foreach (json_object_get (run->record, "argv"), i, v)
    if (json_is_string (v))
      g_strv_builder_add (b, json_string_value (v));
  argv = g_strv_builder_end (b);
  return ferry_slurm_argv_is_slurm ((const char *const *) argv);
}

/* What the follow's status hook needs: one run is followed at a time. */
static struct
{
  FerryRemote *remote;
  char *dir;
  char *last;         /* the last line shown */
  gint64 empty_since; /* monotonic time since none of the run's jobs is queued; 0: some are */
  guint empty_submitted;
  gboolean waiting_shown;
} followed;

/* The snakemake-executor-plugin-slurm looks at its jobs every 40 to 180 s: a run whose jobs have
 * all left the queue for longer than that, and whose snakemake still runs, does not see them end
 * (a plugin reading sacct without accounting, or squeue after SLURM forgot the jobs).
 * FERRY_SLURM_WAIT_NOTICE (seconds) changes when that is said. */
#define WAIT_NOTICE_S 200

static guint
wait_notice_s (void)
{
  const char *v = g_getenv ("FERRY_SLURM_WAIT_NOTICE");
  guint64 n;

  if (v != NULL && g_ascii_string_to_unsigned (v, 10, 1, 86400, &n, NULL))
    return (guint) n;
  return WAIT_NOTICE_S;
}

/* Said once per follow, when every job the run submitted has left the queue for a while and
 * snakemake is still running. The queue look the counts make anyway tells it: no command more. */
static char *
waiting_line (FerryRun *run, const FerrySlurmQueue *q)
{
  gint64 now = g_get_monotonic_time ();
  guint notice = wait_notice_s ();

  if (q->submitted == 0 || q->pending + q->running > 0)
    {
      followed.empty_since = 0;
      return NULL;
    }
  if (followed.empty_since == 0 || q->submitted != followed.empty_submitted)
    {
      followed.empty_since = now;
      followed.empty_submitted = q->submitted;
    }
  if (followed.waiting_shown || now - followed.empty_since < (gint64) notice * G_USEC_PER_SEC)
    return NULL;
  followed.waiting_shown = TRUE;
  return g_strdup_printf ("ferry: all SLURM jobs of this run have left the queue, snakemake is still"
                          " waiting (%u done, none queued for %u s: it may not see them end;"
                          " ferry check --slurm on this host says how it reads job states there,"
                          " ferry cancel %s stops the run)",
                          q->done, notice, run->id);
}

/* The run's counts, when it has submitted jobs and they changed since the last line; and, while
 * the run goes on, once, that snakemake waits on jobs that are all gone. */
static char *
queue_look (FerryRun *run, gboolean ended, GCancellable *c)
{
  g_autofree char *log = run_log (run);
  g_autofree char *line = NULL;
  g_autofree char *waiting = NULL;
  FerrySlurmQueue q;

  /* A failed look (the link dropped) is tried again at the next tick. */
  if (!ferry_slurm_queue (followed.remote, followed.dir, log, &q, NULL, c, NULL))
    return NULL;
  line = ferry_slurm_queue_describe (&q);
  waiting = ended ? NULL : waiting_line (run, &q);
  if (q.submitted == 0 || g_strcmp0 (line, followed.last) == 0)
    return g_steal_pointer (&waiting);
  g_free (followed.last);
  followed.last = g_strdup (line);
  if (waiting != NULL)
    return g_strconcat (line, "\n", waiting, NULL);
  return g_steal_pointer (&line);
}

static char *
queue_line (FerryRun *run, gpointer hook_data, GCancellable *c)
{
  return queue_look (run, FALSE, c);
}

void
ferry_run_slurm_follow (FerryRemote *remote, const char *dir, FerryRun *run, FerryFollow *follow)
{
  if (!run_is_slurm (run) || follow->status_line != NULL)
    return;
  followed.remote = remote;
  g_free (followed.dir);
  followed.dir = g_strdup (dir);
  g_clear_pointer (&followed.last, g_free);
  followed.empty_since = 0;
  followed.waiting_shown = FALSE;
  follow->status_line = queue_line;
  follow->status_interval_s = 5;
}

void
ferry_run_slurm_follow_end (FerryRun *run, GCancellable *c)
{
  g_autofree char *line = NULL;

  if (followed.remote == NULL)
    return;
  /* The counts as the run left them. */
  if (!g_cancellable_is_cancelled (c) && (line = queue_look (run, TRUE, c)) != NULL)
    g_printerr ("%s\n", line);
  followed.remote = NULL;
  g_clear_pointer (&followed.dir, g_free);
  g_clear_pointer (&followed.last, g_free);
}

void
ferry_run_slurm_annotate (FerryRemote *remote, const char *dir, GPtrArray *runs, GCancellable *c)
{
  for (guint i = 0; runs != NULL && i < runs->len; i++)
    {
      FerryRun *run = runs->pdata[i];
      g_autofree char *log = NULL;
      FerrySlurmQueue q;

      if (run->state != FERRY_RUN_RUNNING || !run_is_slurm (run))
        continue;
      log = run_log (run);
      if (ferry_slurm_queue (remote, dir, log, &q, NULL, c, NULL))
        json_object_set_new (run->record, "slurm_queue",
                             json_pack ("{s:i, s:i, s:i, s:i}", "submitted", (json_int_t) q.submitted,
                                        "pending", (json_int_t) q.pending, "running",
                                        (json_int_t) q.running, "done", (json_int_t) q.done));
    }
}

char *
ferry_run_slurm_status_line (FerryRun *run)
{
  json_t *q = json_object_get (run->record, "slurm_queue");
  FerrySlurmQueue queue = { 0 };

  if (!json_is_object (q))
    return NULL;
  queue.pending = (guint) json_integer_value (json_object_get (q, "pending"));
  queue.running = (guint) json_integer_value (json_object_get (q, "running"));
  queue.done = (guint) json_integer_value (json_object_get (q, "done"));
  return ferry_slurm_queue_describe (&queue);
}

gboolean
ferry_run_slurm_cancel (FerryRemote *remote, const char *dir, FerryRun *run, GCancellable *c,
                        GError **error)
{
  g_autofree char *log = NULL;
  guint left = 0;

  if (!run_is_slurm (run))
    return TRUE;
  log = run_log (run);
  /* Before snakemake is signalled (which it may not see in time: on SIGTERM snakemake 7 waits for
   * its running jobs), and again after, for any it submitted meanwhile or left behind when killed. */
  if (!ferry_slurm_cancel_jobs (remote, dir, log, 60, &left, c, error))
    return FALSE;
  if (left > 0)
    g_printerr ("cancelled %u SLURM job%s of the run (scancel)\n", left, left == 1 ? "" : "s");
  return TRUE;
}

void
ferry_run_slurm_explain (const char *local_log)
{
  /* snakemake 7 words it so; the plugin of 8+ (2.x) says "SLURM sbatch failed. The error message
   * was '...'." */
  static const char marker[] = "SLURM job submission failed. The error message was ";
  static const char marker8[] = "SLURM sbatch failed. The error message was '";
  g_autofree char *text = NULL;
  const char *p, *end;

  if (!opt_slurm || local_log == NULL || !g_file_get_contents (local_log, &text, NULL, NULL))
    return;
  if ((p = strstr (text, marker)) != NULL)
    p += strlen (marker);
  else if ((p = strstr (text, marker8)) != NULL)
    p += strlen (marker8);
  else if ((p = strstr (text, "SLURM sbatch failed")) == NULL)
    return;
  end = strchr (p, '\n');
  if (end == NULL)
    end = p + strlen (p);
  if (end - p >= 2 && strncmp (end - 2, "'.", 2) == 0 && p[-1] == '\'')
    end -= 2;
  g_printerr ("SLURM refused a job: %.*s\n", (int) (end - p), p);
}
