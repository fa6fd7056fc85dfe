/* ferry cancel: stop a run living on the remote (the newest, or RUN) as snakemake stops cleanly. */
#include "ferry-builtins.h"
#include "core/remote.h"

static char *opt_host;
static char *opt_remote_dir;
static int opt_grace = 30;

static const GOptionEntry options[] = {
  { "host", 0, 0, G_OPTION_ARG_STRING, &opt_host, "The run's host, as given to ferry run (no AWS)", "[USER@]HOST" },
  { "remote-dir", 0, 0, G_OPTION_ARG_STRING, &opt_remote_dir, "The run's directory on the remote (default ~/ferry/NAME)", "DIR" },
  { "grace", 0, 0, G_OPTION_ARG_INT, &opt_grace, "Seconds snakemake gets after SIGINT before SIGTERM (and as long again before SIGKILL; default 30)", "S" },
  { NULL }
};

gboolean
ferry_builtin_cancel (int argc, char **argv, FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("[RUN]");
  g_autoptr(FerryRemote) remote = NULL;
  g_autoptr(FerryRun) run = NULL;
  g_autofree char *dir = NULL;
  gboolean was_running = FALSE;
  gboolean ok;

  g_option_context_set_summary (context, "Stop a run on the remote (the newest, or RUN): SIGINT to its process group, as\n"
                                         "Ctrl-C would (snakemake stops its jobs and marks their outputs incomplete),\n"
                                         "SIGTERM after the grace period; wait until it is gone, and mark it cancelled.");
  if (!ferry_option_context_parse (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_CONNECT, c, error))
    return FALSE;
  if (argc > 2)
    return ferry_usage_error (context, error, "cancel takes one RUN at most (see ferry cancel --help)");
  if (opt_grace < 1 || opt_grace > 86400)
    return ferry_usage_error (context, error, "--grace takes 1 to 86400 seconds, not %d", opt_grace);
  run = ferry_builtin_run_find (inv, context, opt_host, opt_remote_dir, argc == 2 ? argv[1] : NULL,
                                &remote, &dir, c, error);
  if (run == NULL)
    return FALSE;
  if (inv->dry_run)
    {
      g_print ("would cancel run %s on %s:%s (%s)\n", run->id, remote->host, dir, ferry_run_state_name (run->state));
      return TRUE;
    }
  if (run->state == FERRY_RUN_RUNNING)
    g_printerr ("cancelling run %s on %s:%s (SIGINT, then SIGTERM after %d s)...\n", run->id, remote->host, dir,
                opt_grace);
  /* A --slurm run's jobs go first: snakemake 7 waits for running jobs on SIGTERM. */
  ok = ferry_run_slurm_cancel (remote, dir, run, c, error)
       && ferry_remote_run_cancel (remote, dir, run, (guint) opt_grace, &was_running, c, error)
       && ferry_run_slurm_cancel (remote, dir, run, c, error);
  ferry_remote_close (remote);
  if (!ok)
    return FALSE;
  if (was_running)
    g_print ("cancelled run %s on %s:%s\n", run->id, remote->host, dir);
  else if (run->state == FERRY_RUN_EXITED)
    g_print ("run %s on %s:%s had already ended (exit %d): nothing to cancel\n", run->id, remote->host, dir,
             run->exit_status);
  else
    g_print ("run %s on %s:%s is not running (%s): nothing to cancel\n", run->id, remote->host, dir,
             ferry_run_state_name (run->state));
  return TRUE;
}
