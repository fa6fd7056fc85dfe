/* ferry attach: follow a run living on the remote (the newest, or RUN) to its end, then pull and exit
 * with snakemake's status, as run would have. */
#include "ferry-builtins.h"
#include "core/remote.h"

static char *opt_host;
static char *opt_remote_dir;
static int opt_tail = -1;
static gboolean opt_no_pull;
static char *opt_reconnect_timeout;

static const GOptionEntry options[] = {
  { "host", 0, 0, G_OPTION_ARG_STRING, &opt_host, "The run's host, as given to ferry run (no AWS)", "[USER@]HOST" },
  { "remote-dir", 0, 0, G_OPTION_ARG_STRING, &opt_remote_dir, "The run's directory on the remote (default ~/ferry/NAME)", "DIR" },
  { "tail", 0, 0, G_OPTION_ARG_INT, &opt_tail, "Start with the log's last N lines instead of its start", "N" },
  { "no-pull", 0, 0, G_OPTION_ARG_NONE, &opt_no_pull, "Do not pull the outputs when the run has ended", NULL },
  { "reconnect-timeout", 0, 0, G_OPTION_ARG_STRING, &opt_reconnect_timeout, "How long to keep reconnecting after the connection drops (default 15m)", "DURATION" },
  { NULL }
};

gboolean
ferry_builtin_attach (int argc, char **argv, FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("[RUN]");
  g_autoptr(FerryRemote) remote = NULL;
  g_autoptr(FerryRun) run = NULL;
  g_autofree char *dir = NULL;
  FerryFollow follow = { 0 };
  guint reconnect_s = 15 * 60;
  gboolean ok;

  g_option_context_set_summary (context, "Follow a run on the remote (the newest, or RUN) from its start: its log live,\n"
                                         "across lost connections. Once it has ended, pull the outputs of its targets,\n"
                                         "apply its --then, and exit with snakemake's status. Ctrl-C only detaches.");
  if (!ferry_option_context_parse (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_CONNECT, c, error))
    return FALSE;
  if (argc > 2)
    return ferry_usage_error (context, error, "attach takes one RUN at most (see ferry attach --help)");
  if (opt_tail < -1)
    return ferry_usage_error (context, error, "--tail takes a number of lines, not %d", opt_tail);
  if (opt_reconnect_timeout != NULL && !ferry_parse_duration (opt_reconnect_timeout, &reconnect_s))
    return ferry_usage_error (context, error, "--reconnect-timeout takes seconds, or a number with s, m or h (15m), not \"%s\"",
                              opt_reconnect_timeout);
  if (argc == 2 && !ferry_run_id_valid (argv[1]))
    return ferry_usage_error (context, error, "invalid run id \"%s\" (ferry status lists the runs)", argv[1]);
  /* An instance its run stopped is started to follow and pull, and stopped again after. */
  if (!ferry_invocation_open_state (inv, TRUE, FALSE, error)
      || !ferry_run_wake_instance (inv, opt_host, c, error))
    return FALSE;
  /* The instance is gone: AWS took it back mid-run (spot), and the run goes on on a new one; or its
   * run's agent terminated it after saving the outputs. */
  if (ferry_run_instance_gone (inv, opt_host) && ferry_state_has_resource (inv->state, FERRY_KIND_BUCKET))
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(json_t) interrupted = ferry_run_find_interrupted (inv, argc == 2 ? argv[1] : NULL, NULL, c,
                                                                  &local_error);
      g_auto(GStrv) targets = NULL;
      g_auto(GStrv) extra = NULL;

      if (local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      if (interrupted == NULL)
        return opt_no_pull || ferry_run_attach_from_store (inv, argc == 2 ? argv[1] : NULL, c, error);
      targets = ferry_run_record_strv (interrupted, "targets");
      extra = ferry_run_record_strv (interrupted, "snakemake_args");
      return ferry_run_again (inv, (const char *const *) targets,
                              json_string_value (json_object_get (interrupted, "cores")),
                              json_string_value (json_object_get (interrupted, "then")),
                              json_string_value (json_object_get (interrupted, "notify")), extra, opt_remote_dir, c,
                              error);
    }
  run = ferry_builtin_run_find (inv, context, opt_host, opt_remote_dir, argc == 2 ? argv[1] : NULL,
                                &remote, &dir, c, error);
  if (run == NULL)
    {
      ferry_run_sleep_instance (inv, c, NULL);
      return FALSE;
    }
  if (run->state == FERRY_RUN_RUNNING)
    g_printerr ("attached to run %s on %s:%s (Ctrl-C detaches)\n", run->id, remote->host, dir);
  else if (run->state == FERRY_RUN_EXITED)
    g_printerr ("run %s on %s:%s has ended\n", run->id, remote->host, dir);
  follow.tail_lines = opt_tail;
  follow.reconnect_timeout_s = reconnect_s;
  ok = ferry_run_follow_to_end (inv, remote, opt_host, opt_remote_dir, dir, run, &follow, NULL, opt_no_pull, c,
                                error);
  ferry_remote_close (remote);
  if (!ok)
    ferry_run_sleep_instance (inv, NULL, NULL);
  return ok;
}
