/* ferry pull: bring a target's outputs back from the remote dir, extracted securely with their mtimes. */
#include "ferry-builtins.h"
#include "core/remote.h"
#include "core/snakemake.h"

static char *opt_host;
static char *opt_remote_dir;
static gboolean opt_from_store;

static const GOptionEntry options[] = {
  { "from-store", 0, 0, G_OPTION_ARG_NONE, &opt_from_store, "Bring the outputs from the store in the bucket (run --save put them there), as when the instance is stopped or gone", NULL },
  { "host", 0, 0, G_OPTION_ARG_STRING, &opt_host, "Pull from this host instead of the instance (no AWS)", "[USER@]HOST" },
  { "remote-dir", 0, 0, G_OPTION_ARG_STRING, &opt_remote_dir, "Directory on the remote (default ~/ferry/NAME)", "DIR" },
  { NULL }
};

gboolean
ferry_builtin_pull (int argc, char **argv, FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("TARGET...");
  g_autoptr(FerryRemote) remote = NULL;
  g_autoptr(FerryPlan) plan = NULL;
  g_autofree char *dir = NULL;
  FerryPullStats stats;
  gboolean ok;

  g_option_context_set_summary (context, "Bring back the outputs of TARGET's jobs (directories whole) that the remote has\n"
                                         "complete, keeping their mtimes, so the local snakemake sees TARGET done. An\n"
                                         "output of a failed or interrupted job is not pulled. When the instance is\n"
                                         "stopped or gone (or with --from-store), they come from the store in the\n"
                                         "deployment's bucket, where run --save put them.");
  if (!ferry_option_context_parse (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_CONNECT, c, error))
    return FALSE;
  if (argc < 2)
    return ferry_usage_error (context, error, "pull needs at least one TARGET (see ferry pull --help)");
  if (!ferry_invocation_open_state (inv, TRUE, FALSE, error))
    return FALSE;
  if (opt_from_store && opt_host != NULL)
    return ferry_usage_error (context, error, "--from-store and --host exclude each other");
  /* The instance stopped or gone (its run's agent may have done it): the saved outputs come from
   * the store. */
  if (!opt_from_store && !ferry_run_refresh_instance (inv, opt_host, NULL, c, error))
    return FALSE;
  if (opt_from_store || ferry_store_pull_wanted (inv, opt_host))
    {
      g_autoptr(GError) local_error = NULL;
      plan = ferry_snakemake_plan_remote ((const char *const *) argv + 1, NULL, c, error);
      if (plan == NULL)
        return FALSE;
      if (inv->dry_run)
        {
          for (guint i = 0; plan->outputs[i] != NULL; i++)
            g_print ("would pull %s from the store\n", plan->outputs[i]);
          return TRUE;
        }
      if (ferry_store_pull_outputs (inv, plan->outputs, c, &local_error))
        return TRUE;
      /* Not saved, on an instance its run stopped: they are on its volume (below). */
      if (opt_from_store || !g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND)
          || !ferry_state_has_resource (inv->state, FERRY_KIND_INSTANCE) || ferry_run_instance_gone (inv, opt_host))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_clear_pointer (&plan, ferry_plan_free);
    }
  /* An instance its run stopped is started to pull, and stopped again after. */
  if (!ferry_run_wake_instance (inv, opt_host, c, error))
    return FALSE;
  remote = ferry_builtin_remote (inv, opt_host, opt_remote_dir, &dir, error);
  if (remote == NULL)
    return FALSE;
  /* The handshake overlaps snakemake's dry run. */
  if (!inv->dry_run)
    ferry_remote_connect_early (remote);
  plan = ferry_snakemake_plan_remote ((const char *const *) argv + 1, NULL, c, error);
  if (plan == NULL)
    {
      ferry_run_sleep_instance (inv, NULL, NULL);
      return FALSE;
    }
  if (inv->dry_run)
    {
      for (guint i = 0; plan->outputs[i] != NULL; i++)
        g_print ("would pull %s\n", plan->outputs[i]);
      return TRUE;
    }
  ok = ferry_remote_pull (remote, dir, (const char *const *) plan->outputs, &stats, c, error);
  ferry_remote_close (remote);
  if (!ok)
    {
      ferry_run_sleep_instance (inv, NULL, NULL);
      return FALSE;
    }
  g_print ("pulled %u entries (%" G_GUINT64_FORMAT " bytes) from %s:%s\n", stats.entries, stats.bytes,
           remote->host, dir);
  return ferry_run_sleep_instance (inv, c, error);
}
