/* ferry run: push, run snakemake on the remote with live output, pull the outputs, exit with its status. */
#include <unistd.h>
#include <glib/gstdio.h>

#include "ferry-builtins.h"
#include "core/instance.h"
#include "core/remote.h"
#include "core/snakemake.h"
#include "core/spawn.h"

static char *opt_host;
static char *opt_remote_dir;
static gboolean opt_no_compress;
static char *opt_via;
static char *opt_cores;
static char *opt_then;
static gboolean opt_no_push;
static gboolean opt_no_pull;
static int opt_ready_timeout = 900;

static const GOptionEntry options[] = {
  { "cores", 0, 0, G_OPTION_ARG_STRING, &opt_cores, "Cores snakemake may use on the remote (default all)", "N" },
  { "host", 0, 0, G_OPTION_ARG_STRING, &opt_host, "Run on this host instead of the instance (no AWS)", "[USER@]HOST" },
  { "remote-dir", 0, 0, G_OPTION_ARG_STRING, &opt_remote_dir, "Directory on the remote (default ~/ferry/NAME)", "DIR" },
  { "via", 0, 0, G_OPTION_ARG_STRING, &opt_via, "Send through ssh (default) or the deployment's S3 bucket, which the instance reads with its profile", "ssh|s3" },
  { "no-compress", 0, 0, G_OPTION_ARG_NONE, &opt_no_compress, "Send uncompressed (fast links: the compression costs more than it saves)", NULL },
  { "no-push", 0, 0, G_OPTION_ARG_NONE, &opt_no_push, "Do not push the workflow and inputs first", NULL },
  { "no-pull", 0, 0, G_OPTION_ARG_NONE, &opt_no_pull, "Do not pull the outputs afterwards", NULL },
  { "then", 0, 0, G_OPTION_ARG_STRING, &opt_then, "Afterwards keep the instance (default), stop it, or terminate it", "keep|stop|terminate" },
  { "ready-timeout", 0, 0, G_OPTION_ARG_INT, &opt_ready_timeout, "Seconds to wait for a new instance to be ready (default 900)", "S" },
  { NULL }
};

static gboolean
after_run (FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autoptr(json_t) instance = NULL;
  g_autofree char *id = NULL;
  g_autofree char *type = NULL;

  if (opt_host != NULL)
    return TRUE;
  id = ferry_state_dup_resource_string (inv->state, FERRY_KIND_INSTANCE, "id");
  type = ferry_state_dup_resource_string (inv->state, FERRY_KIND_INSTANCE, "type");
  if (opt_then == NULL || g_str_equal (opt_then, "keep"))
    {
      g_printerr ("instance %s%s%s%s keeps running and billing by the second: ferry stop or ferry terminate"
                  " when done\n",
                  id, type ? " (" : "", type ? type : "", type ? ")" : "");
      return TRUE;
    }
  if (g_str_equal (opt_then, "stop"))
    {
      if (!ferry_instance_change (inv->aws, inv->state, FERRY_INSTANCE_STOP, TRUE, 900, &instance, c, error))
        return FALSE;
      g_printerr ("stopped instance %s; its volume still bills (ferry start resumes it)\n", id);
      return TRUE;
    }
  if (!ferry_instance_change (inv->aws, inv->state, FERRY_INSTANCE_TERMINATE, TRUE, 900, &instance, c, error))
    return FALSE;
  g_printerr ("terminated instance %s\n", id);
  return TRUE;
}

gboolean
ferry_builtin_run (int argc, char **argv, FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("TARGET... [-- SNAKEMAKE_ARGS...]");
  g_autoptr(FerryRemote) remote = NULL;
  g_autoptr(FerryPlan) plan = NULL;
  g_autoptr(GStrvBuilder) sm = g_strv_builder_new ();
  g_auto(GStrv) sm_argv = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *logs = NULL;
  g_autofree char *log_path = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%dT%H%M%SZ");
  char **extra = NULL;
  int status = 0;
  gboolean ok;

  g_option_context_set_summary (context, "Push the workflow and TARGET's inputs, run snakemake on the remote with its\n"
                                         "output shown live (and kept in STATE-DIR/logs), pass Ctrl-C on, pull the\n"
                                         "outputs, and exit with snakemake's status. Arguments after -- go to snakemake.");
  /* What follows `--` is snakemake's, untouched by option parsing. */
  extra = ferry_split_double_dash (&argc, argv);
  g_option_context_add_group (context, ferry_run_slurm_group ());
  if (!ferry_option_context_parse (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_CONNECT, c, error))
    return FALSE;
  if (!ferry_run_slurm_check (context, error))
    return FALSE;
  if (argc < 2)
    return ferry_usage_error (context, error, "run needs at least one TARGET (see ferry run --help)");
  if (opt_then != NULL && !g_str_equal (opt_then, "keep") && !g_str_equal (opt_then, "stop")
      && !g_str_equal (opt_then, "terminate"))
    return ferry_usage_error (context, error, "--then takes keep, stop or terminate, not \"%s\"", opt_then);
  if (opt_then != NULL && opt_host != NULL && !g_str_equal (opt_then, "keep"))
    return ferry_usage_error (context, error, "--then %s acts on the instance; it does not go with --host", opt_then);
  if (opt_cores != NULL && !g_str_equal (opt_cores, "all")
      && !g_regex_match_simple ("^[1-9][0-9]{0,4}$", opt_cores, 0, 0))
    return ferry_usage_error (context, error, "--cores takes a number or \"all\", not \"%s\"", opt_cores);
  if (!ferry_invocation_open_state (inv, TRUE, FALSE, error))
    return FALSE;
  /* --then acts through AWS: a region problem shows now, not after hours of running. */
  if (opt_then != NULL && !g_str_equal (opt_then, "keep") && !ferry_invocation_use_aws (inv, c, error))
    return FALSE;
  remote = ferry_remote_open (inv->state, opt_host, inv->ssh_user, (const char *const *) inv->ssh_options, error);
  if (remote == NULL)
    return FALSE;
  remote->verbose = inv->verbose;
  remote->log = ferry_print_log;
  remote->log_data = inv;
  remote->compression = opt_no_compress ? g_strdup ("none") : NULL;
  if (!ferry_builtin_remote_via (inv, context, remote, opt_via, error))
    return FALSE;
  dir = opt_remote_dir ? g_strdup (opt_remote_dir) : ferry_remote_default_dir (inv->name);

  /* The handshake overlaps snakemake's dry run. */
  if (!inv->dry_run)
    ferry_remote_connect_early (remote);
  if (!inv->dry_run && opt_host != NULL)
    ferry_run_slurm_probe_start (remote, c);
  plan = ferry_snakemake_plan_remote ((const char *const *) argv + 1, (const char *const *) extra, c, error);
  if (plan == NULL)
    {
      ferry_run_slurm_probe_finish ();
      return FALSE;
    }
  ferry_plan_note_outside (plan->outside);
  g_strv_builder_add_many (sm, "snakemake", "--cores", opt_cores ? opt_cores : "all", NULL);
  if (extra != NULL)
    g_strv_builder_addv (sm, (const char **) extra);
  g_strv_builder_add (sm, "--");
  g_strv_builder_addv (sm, (const char **) argv + 1);
  sm_argv = g_strv_builder_end (sm);
  /* --slurm on a login node: the flags for its snakemake, asked before anything is pushed. */
  if (ferry_run_slurm_enabled () && (inv->dry_run || opt_host != NULL))
    {
      GStrv with = ferry_run_slurm_argv (remote, (const char *const *) sm_argv, inv->dry_run, c, error);
      if (with == NULL)
        {
          ferry_remote_close (remote);
          return FALSE;
        }
      g_strfreev (g_steal_pointer (&sm_argv));
      sm_argv = with;
    }
  if (inv->dry_run)
    {
      g_autofree char *shown = ferry_argv_display ((const char *const *) sm_argv);
      g_print ("would push %u workflow paths and %u inputs to %s:%s\n", g_strv_length (plan->workflow),
               g_strv_length (plan->inputs), remote->host, dir);
      g_print ("would run there: %s\n", shown);
      g_print ("would pull %u outputs\n", g_strv_length (plan->outputs));
      return TRUE;
    }

  if (!opt_no_push)
    {
      g_autoptr(GStrvBuilder) files = g_strv_builder_new ();
      g_auto(GStrv) list = NULL;
      FerryPushStats ps;
      g_strv_builder_addv (files, (const char **) plan->workflow);
      g_strv_builder_addv (files, (const char **) plan->inputs);
      list = g_strv_builder_end (files);
      if (!ferry_remote_push (remote, dir, (const char *const *) list, &ps, c, error))
        {
          ferry_remote_close (remote);
          return FALSE;
        }
      g_printerr ("pushed %u of %u files (%" G_GUINT64_FORMAT " bytes, %s) to %s:%s%s%s\n", ps.files_sent,
                  ps.files_total, ps.bytes_sent, ps.compression ? ps.compression : "none", remote->host, dir,
                  remote->s3_bucket ? " through s3://" : "", remote->s3_bucket ? remote->s3_bucket : "");
    }
  /* With --slurm on a --host, the probe already found snakemake there. */
  if (!(ferry_run_slurm_enabled () && opt_host != NULL)
      && !ferry_remote_wait_ready (remote, opt_ready_timeout, c, error))
    {
      ferry_remote_close (remote);
      return FALSE;
    }
  /* --slurm on the instance (one that runs SLURM): asked once it is ready. */
  if (ferry_run_slurm_enabled () && opt_host == NULL)
    {
      GStrv with = ferry_run_slurm_argv (remote, (const char *const *) sm_argv, FALSE, c, error);
      if (with == NULL)
        {
          ferry_remote_close (remote);
          return FALSE;
        }
      g_strfreev (g_steal_pointer (&sm_argv));
      sm_argv = with;
    }
  logs = ferry_state_path (inv->state, "logs");
  if (g_mkdir_with_parents (logs, 0700) != 0)
    {
      ferry_remote_close (remote);
      return ferry_throw (error, FERRY_ERROR_FAILED, "cannot create %s", logs);
    }
  {
    g_autofree char *file = g_strdup_printf ("run-%s-%d.log", stamp, (int) getpid ());
    log_path = g_build_filename (logs, file, NULL);
  }
  ferry_run_slurm_watch_start (remote, dir, NULL);
  ok = ferry_remote_run (remote, dir, (const char *const *) sm_argv, log_path, &status, c, error);
  ferry_run_slurm_watch_stop (c);
  if (ok && !opt_no_pull)
    {
      FerryPullStats st;
      ok = ferry_remote_pull (remote, dir, (const char *const *) plan->outputs, &st, c, error);
      if (ok)
        g_printerr ("pulled %u entries (%" G_GUINT64_FORMAT " bytes) from %s:%s\n", st.entries, st.bytes,
                    remote->host, dir);
    }
  ferry_remote_close (remote);
  if (!ok)
    return FALSE;
  if (status != 0)
    ferry_run_slurm_explain (log_path);
  g_printerr ("snakemake %s on %s (exit %d); log: %s\n", status == 0 ? "succeeded" : "failed",
              remote->host, status, log_path);
  if (!after_run (inv, c, error))
    return FALSE;
  inv->exit_status = status;
  return TRUE;
}
