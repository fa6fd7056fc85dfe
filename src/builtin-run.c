/* ferry run: push, start snakemake on the remote (a run living there), follow its log, pull the
 * outputs, exit with its status. Also what attach and cancel share: following a run to its end. */
#include <unistd.h>
#include <glib/gstdio.h>
#include <gio/gunixoutputstream.h>

#include "ferry-builtins.h"
#include "core/agent.h"
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
static gboolean opt_save;
static int opt_ready_timeout = 900;
static gboolean opt_detach;
static char *opt_reconnect_timeout;
static int opt_max_interruptions = 3;
static gboolean opt_no_spot_retry;
static char *opt_notify;

static const GOptionEntry options[] = {
  { "cores", 0, 0, G_OPTION_ARG_STRING, &opt_cores, "Cores snakemake may use on the remote (default all)", "N" },
  { "host", 0, 0, G_OPTION_ARG_STRING, &opt_host, "Run on this host instead of the instance (no AWS)", "[USER@]HOST" },
  { "remote-dir", 0, 0, G_OPTION_ARG_STRING, &opt_remote_dir, "Directory on the remote (default ~/ferry/NAME)", "DIR" },
  { "via", 0, 0, G_OPTION_ARG_STRING, &opt_via, "Send through the store in the deployment's bucket (the default with bootstrap --bucket --iam; the instance reads it with its profile) or straight over ssh (s3 is the store too)", "store|ssh|s3" },
  { "no-compress", 0, 0, G_OPTION_ARG_NONE, &opt_no_compress, "Send uncompressed (fast links: the compression costs more than it saves)", NULL },
  { "no-push", 0, 0, G_OPTION_ARG_NONE, &opt_no_push, "Do not push the workflow and inputs first", NULL },
  { "no-pull", 0, 0, G_OPTION_ARG_NONE, &opt_no_pull, "Do not pull the outputs afterwards", NULL },
  { "save", 0, 0, G_OPTION_ARG_NONE, &opt_save, "Store the target's outputs in the bucket's store when the run succeeds (ferry pull brings them home later, instance or not)", NULL },
  { "then", 0, 0, G_OPTION_ARG_STRING, &opt_then, "Afterwards keep the instance (default), stop it, or terminate it", "keep|stop|terminate" },
  { "ready-timeout", 0, 0, G_OPTION_ARG_INT, &opt_ready_timeout, "Seconds to wait for a new instance to be ready (default 900)", "S" },
  { "detach", 0, 0, G_OPTION_ARG_NONE, &opt_detach, "Start the run and return at once (ferry attach follows it)", NULL },
  { "reconnect-timeout", 0, 0, G_OPTION_ARG_STRING, &opt_reconnect_timeout, "How long to keep reconnecting after the connection drops (default 15m)", "DURATION" },
  { "max-interruptions", 0, 0, G_OPTION_ARG_INT, &opt_max_interruptions, "A run whose spot instance AWS took back is recovered on a new one (the same type, or the next that fits when EC2 has no room) this many times at most (default 3)", "N" },
  { "no-spot-retry", 0, 0, G_OPTION_ARG_NONE, &opt_no_spot_retry, "Recover an interrupted spot run on an on-demand instance", NULL },
  { "notify", 0, 0, G_OPTION_ARG_STRING, &opt_notify, "Mail EMAIL one message (through the deployment's SNS topic, sent by the instance) when the run ends, fails or is interrupted", "EMAIL" },
  { NULL }
};

static gboolean
after_run (FerryInvocation *inv, FerryRemote *remote, const char *dir, FerryRun *run, gboolean on_host,
           const char *then, GCancellable *c, GError **error)
{
  g_autoptr(json_t) instance = NULL;
  g_autofree char *id = NULL;
  g_autofree char *type = NULL;
  gboolean done = FALSE;

  if (on_host)
    return TRUE;
  /* attach started the instance its run had stopped: it goes back to sleep, whatever --then. */
  if (ferry_run_instance_woken ())
    return ferry_run_sleep_instance (inv, c, error);
  if (!ferry_run_then_by_instance (inv, remote, dir, run, &done, c, error))
    return FALSE;
  if (done)
    return TRUE;
  id = ferry_state_dup_resource_string (inv->state, FERRY_KIND_INSTANCE, "id");
  type = ferry_state_dup_resource_string (inv->state, FERRY_KIND_INSTANCE, "type");
  if (then == NULL || g_str_equal (then, "keep"))
    {
      g_printerr ("instance %s%s%s%s keeps running and billing by the second: ferry stop or ferry terminate"
                  " when done\n",
                  id, type ? " (" : "", type ? type : "", type ? ")" : "");
      return TRUE;
    }
  if (!ferry_invocation_use_aws (inv, c, error))
    return FALSE;
  if (g_str_equal (then, "stop"))
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

/* --use-conda: conda or mamba must be on the remote before anything runs, and the environments go
 * under one prefix in the remote home (unless --conda-prefix is given), so later runs reuse them. */
static gboolean
prepare_conda (FerryRemote *remote, char **extra, GStrv *sm_argv, GCancellable *c, GError **error)
{
  g_autoptr(GStrvBuilder) b = NULL;
  g_autofree char *prefix = NULL;

  if (!ferry_remote_snakemake_args_use_conda ((const char *const *) extra))
    return TRUE;
  prefix = ferry_remote_conda_prefix (remote, c, error);
  if (prefix == NULL)
    return FALSE;
  for (guint i = 0; extra[i] != NULL; i++)
    if (g_str_has_prefix (extra[i], "--conda-prefix"))
      return TRUE;
  b = g_strv_builder_new ();
  for (guint i = 0; (*sm_argv)[i] != NULL; i++)
    {
      if (g_str_equal ((*sm_argv)[i], "--"))
        g_strv_builder_add_many (b, "--conda-prefix", prefix, NULL);
      g_strv_builder_add (b, (*sm_argv)[i]);
    }
  g_strfreev (*sm_argv);
  *sm_argv = g_strv_builder_end (b);
  return TRUE;
}

gboolean
ferry_parse_duration (const char *text, guint *out_seconds)
{
  char *end = NULL;
  guint64 v, mult = 1;

  if (text == NULL || !g_ascii_isdigit (*text))
    return FALSE;
  v = g_ascii_strtoull (text, &end, 10);
  if (*end == '\0' || g_str_equal (end, "s"))
    mult = 1;
  else if (g_str_equal (end, "m"))
    mult = 60;
  else if (g_str_equal (end, "h"))
    mult = 3600;
  else
    return FALSE;
  if (v > G_MAXUINT / mult)
    return FALSE;
  *out_seconds = (guint) (v * mult);
  return TRUE;
}

char *
ferry_run_hint (FerryInvocation *inv, const char *verb, const char *id, const char *host,
                const char *remote_dir)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) words = NULL;

  g_strv_builder_add_many (b, "ferry", verb, id, NULL);
  if (g_strcmp0 (inv->state_dir, ".ferry") != 0)
    g_strv_builder_add_many (b, "--state-dir", inv->state_dir, NULL);
  if (host != NULL)
    g_strv_builder_add_many (b, "--host", host, NULL);
  if (remote_dir != NULL)
    g_strv_builder_add_many (b, "--remote-dir", remote_dir, NULL);
  words = g_strv_builder_end (b);
  return ferry_argv_display ((const char *const *) words);
}

static void
note_to_stderr (const char *message, gpointer user_data)
{
  g_printerr ("%s\n", message);
}

static json_t *
strv_to_json (const char *const *v)
{
  json_t *a = json_array ();

  for (guint i = 0; v != NULL && v[i] != NULL; i++)
    json_array_append_new (a, json_string (v[i]));
  return a;
}

GStrv
ferry_run_record_strv (json_t *record, const char *key)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  json_t *v;
  size_t i;

  json_array_foreach (json_object_get (record, key), i, v)
    if (json_is_string (v))
      g_strv_builder_add (b, json_string_value (v));
  return g_strv_builder_end (b);
}

gboolean
ferry_run_follow_to_end (FerryInvocation *inv, FerryRemote *remote, const char *host_opt,
                         const char *dir_opt, const char *dir, FerryRun *run, FerryFollow *follow,
                         char **outputs, gboolean no_pull, GCancellable *c, GError **error)
{
  g_autofree char *logs = ferry_state_path (inv->state, "logs");
  g_autofree char *file = g_strdup_printf ("run-%s.log", run->id);
  g_autofree char *log_path = g_build_filename (logs, file, NULL);
  g_autoptr(GFile) log_file = g_file_new_for_path (log_path);
  g_autoptr(GFileOutputStream) log = NULL;
  g_autoptr(GOutputStream) display = g_unix_output_stream_new (STDOUT_FILENO, FALSE);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(FerryPlan) plan = NULL;
  json_t *record = run->record;
  const char *then = json_string_value (json_object_get (record, "then"));
  gboolean save;
  g_autoptr(GError) save_error = NULL;
  int status;

  if (g_mkdir_with_parents (logs, 0700) != 0)
    return ferry_throw (error, FERRY_ERROR_FAILED, "cannot create %s: %s", logs, g_strerror (errno));
  log = g_file_replace (log_file, NULL, FALSE, G_FILE_CREATE_PRIVATE, NULL, error);
  if (log == NULL)
    return FALSE;
  follow->display = display;
  follow->log = G_OUTPUT_STREAM (log);
  follow->hold = host_opt == NULL && ferry_agent_by_instance (record);
  if (follow->note == NULL)
    {
      follow->note = note_to_stderr;
      follow->hook_data = inv;
    }
  ferry_run_slurm_follow (remote, dir, run, follow);
  if (!ferry_remote_run_follow (remote, dir, run, follow, c, &local_error))
    g_output_stream_close (G_OUTPUT_STREAM (log), NULL, NULL);
  if (local_error != NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && inv->signal != 0)
        {
          /* Ctrl-C, a closed terminal, a SIGTERM: stop following, never the run. */
          g_autofree char *attach = ferry_run_hint (inv, "attach", run->id, host_opt, dir_opt);
          g_autofree char *cancel = ferry_run_hint (inv, "cancel", run->id, host_opt, dir_opt);
          g_printerr ("detached from run %s on %s (%s): it goes on there\n"
                      "  follow it again: %s\n"
                      "  stop it:         %s\n",
                      run->id, remote->host, ferry_signal_name (inv->signal), attach, cancel);
          inv->exit_status = 128 + inv->signal;
          return TRUE;
        }
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  g_output_stream_close (G_OUTPUT_STREAM (log), NULL, NULL);
  ferry_run_slurm_follow_end (run, c);
  if (run->state == FERRY_RUN_CANCELLED)
    return ferry_throw (error, FERRY_ERROR_FAILED, "run %s on %s was cancelled (ferry cancel); log: %s",
                        run->id, remote->host, log_path);
  if (run->state == FERRY_RUN_LOST)
    return ferry_throw (error, FERRY_ERROR_FAILED,
                        "run %s on %s ended without an exit status (the remote rebooted, or its "
                        "process was killed); log: %s",
                        run->id, remote->host, log_path);
  /* A spot notice came: the agent saves what is finished, and AWS takes the instance. */
  {
    const char *notice = NULL;
    if (host_opt == NULL && ferry_agent_event (run, "interrupted", &notice) > 0)
      {
        g_autofree char *again = ferry_run_hint (inv, "attach", run->id, host_opt, dir_opt);
        return ferry_throw (error, FERRY_ERROR_FAILED,
                            "run %s was interrupted: AWS is taking its spot instance back (%s); its agent saves"
                            " the outputs it finished in the store, and %s recovers it on a new instance",
                            run->id, notice, again);
      }
  }
  status = run->exit_status;
  /* run --save, and always before a --then terminate: the outputs go into the store first. */
  save = status == 0
         && (json_is_true (json_object_get (record, "save"))
             || (then != NULL && g_str_equal (then, "terminate") && host_opt == NULL
                 && !ferry_agent_by_instance (record)
                 && ferry_state_has_resource (inv->state, FERRY_KIND_BUCKET)));
  if (save || (!no_pull && !json_is_false (json_object_get (record, "pull"))))
    {
      FerryPullStats st;
      if (outputs == NULL)
        {
          g_auto(GStrv) targets = ferry_run_record_strv (record, "targets");
          g_auto(GStrv) extra = ferry_run_record_strv (record, "snakemake_args");
          plan = ferry_snakemake_plan_remote ((const char *const *) targets,
                                              (const char *const *) extra, c, error);
          if (plan == NULL)
            return FALSE;
          outputs = plan->outputs;
        }
      gboolean pull = !no_pull && !json_is_false (json_object_get (record, "pull"));

      /* A store that fails (its bucket gone, say) does not keep the outputs from coming home by
       * the direct path; once they are home, a --then terminate loses nothing. */
      if (save && !ferry_store_save_outputs (inv, remote, dir, run->id, outputs, c, &save_error))
        {
          if (!pull)
            {
              g_propagate_error (error, g_steal_pointer (&save_error));
              return FALSE;
            }
          g_printerr ("warning: %s; the outputs come home over ssh instead\n", save_error->message);
        }
      if (pull && !ferry_remote_pull (remote, dir, (const char *const *) outputs, &st, c, error))
        return FALSE;
      if (pull)
        g_printerr ("pulled %u entries (%" G_GUINT64_FORMAT " bytes) from %s:%s\n", st.entries,
                    st.bytes, remote->host, dir);
      /* --save asked for the store: its failure is the run's, once the outputs are home. */
      if (save_error != NULL && json_is_true (json_object_get (record, "save")))
        {
          g_propagate_error (error, g_steal_pointer (&save_error));
          return FALSE;
        }
    }
  if (status != 0)
    ferry_run_slurm_explain (log_path);
  g_printerr ("snakemake %s on %s (exit %d); log: %s\n", status == 0 ? "succeeded" : "failed",
              remote->host, status, log_path);
  if (!after_run (inv, remote, dir, run, host_opt != NULL, then, c, error))
    return FALSE;
  inv->exit_status = status;
  return TRUE;
}

/* run once its options are parsed: argv[1..] are the targets, extra what follows `--`. */
static gboolean
run_targets (GOptionContext *context, int argc, char **argv, char **extra, guint reconnect_s, FerryInvocation *inv,
             GCancellable *c, GError **error)
{
  g_autoptr(FerryRemote) remote = NULL;
  g_autoptr(FerryPlan) plan = NULL;
  g_autoptr(GStrvBuilder) sm = g_strv_builder_new ();
  g_auto(GStrv) sm_argv = NULL;
  g_autofree char *dir = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr(json_t) record = NULL;
  g_autoptr(FerryRun) run = NULL;
  g_autoptr(json_t) on_end = NULL;
  g_autofree char *id = NULL;
  g_autofree char *attach = NULL;
  g_autofree char *cancel = NULL;
  FerryFollow follow = { 0 };
  g_autoptr(json_t) interrupted = NULL;
  gboolean ok;

  /* AWS took back the spot instance of this target's last run: a replacement, then the outputs that
   * run finished come back from the store before snakemake starts. */
  if (!inv->dry_run && opt_host == NULL
      && !ferry_run_recover_start (inv, (const char *const *) argv + 1, opt_max_interruptions,
                                   !opt_no_spot_retry, &interrupted, c, error))
    return FALSE;
  /* --then acts through AWS: a region problem shows now, not after hours of running; and the
   * instance learns whether it carries --then out itself. */
  if (!inv->dry_run && opt_host == NULL)
    {
      on_end = ferry_run_on_end (inv, opt_then, opt_notify, c, error);
      if (on_end == NULL)
        return FALSE;
    }
  if (opt_save && !ferry_state_has_resource (inv->state, FERRY_KIND_BUCKET))
    return ferry_usage_error (context, error,
                              "--save needs the deployment's bucket: ferry bootstrap --bucket NAME --iam");
  if (opt_save && !ferry_invocation_use_aws (inv, c, error))
    return FALSE;
  remote = ferry_builtin_remote (inv, opt_host, opt_remote_dir, &dir, error);
  if (remote == NULL)
    return FALSE;
  remote->compression = opt_no_compress ? g_strdup ("none") : NULL;
  if (!ferry_builtin_remote_via (inv, context, remote, opt_via, error))
    return FALSE;

  /* The handshake (and the push's questions) overlap snakemake's dry run. */
  if (!inv->dry_run && opt_no_push)
    ferry_remote_connect_early (remote);
  else if (!inv->dry_run)
    ferry_remote_push_early (remote, dir, c);
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

  /* A --host has what it has: a missing conda is said before anything is sent. */
  if (opt_host != NULL && !prepare_conda (remote, extra, &sm_argv, c, error))
    {
      ferry_remote_close (remote);
      return FALSE;
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
      {
        g_autofree char *summary = ferry_remote_push_summary (remote, dir, &ps);
        g_printerr ("%s\n", summary);
      }
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
  /* On the instance, conda comes with the user data: asked once it is ready. */
  if (opt_host == NULL && !prepare_conda (remote, extra, &sm_argv, c, error))
    {
      ferry_remote_close (remote);
      return FALSE;
    }
  if (interrupted != NULL && !ferry_run_recover_restore (inv, remote, dir, interrupted, c, error))
    {
      ferry_remote_close (remote);
      return FALSE;
    }
  /* --then terminate by the instance, or a spot instance's notice: its agent saves the outputs with
   * the store's script. */
  if (json_is_string (json_object_get (on_end, "bucket")))
    {
      g_autoptr(FerryStore) store = ferry_builtin_store_open (inv, c, error);
      if (store == NULL || !ferry_store_install_remote (store, remote, dir, c, error))
        {
          ferry_remote_close (remote);
          return FALSE;
        }
    }
  {
    g_autofree char *who = remote->user ? g_strdup_printf ("%s@%s", remote->user, remote->host)
                                        : g_strdup (remote->host);
    g_autofree char *created = g_date_time_format_iso8601 (now);
    record = json_pack ("{s:i, s:o, s:o, s:o, s:s, s:b, s:s, s:s, s:O?, s:b}", "version", 1, "targets",
                        strv_to_json ((const char *const *) argv + 1), "snakemake_args",
                        strv_to_json ((const char *const *) extra), "argv",
                        strv_to_json ((const char *const *) sm_argv), "then",
                        opt_then ? opt_then : "keep", "pull", !opt_no_pull, "host", who, "created",
                        created, "on_end", on_end, "save", opt_save);
    if (json_is_string (json_object_get (on_end, "bucket")))
      json_object_set_new (record, "outputs", strv_to_json ((const char *const *) plan->outputs));
    if (interrupted != NULL)
      {
        json_object_set (record, "recovers", json_object_get (interrupted, "run"));
        json_object_set (record, "interruptions", json_object_get (interrupted, "interruptions"));
      }
  }
  id = ferry_run_new_id ();
  run = ferry_remote_run_start (remote, dir, id, record, (const char *const *) sm_argv, c, error);
  if (run == NULL)
    {
      ferry_remote_close (remote);
      return FALSE;
    }
  attach = ferry_run_hint (inv, "attach", id, opt_host, opt_remote_dir);
  cancel = ferry_run_hint (inv, "cancel", id, opt_host, opt_remote_dir);
  if (opt_detach)
    {
      ferry_remote_close (remote);
      g_print ("started run %s on %s:%s\n"
               "  follow it: %s\n"
               "  stop it:   %s\n",
               id, remote->host, dir, attach, cancel);
      return TRUE;
    }
  g_printerr ("started run %s on %s:%s (Ctrl-C detaches; %s stops it)\n", id, remote->host, dir,
              cancel);
  follow.tail_lines = -1;
  follow.reconnect_timeout_s = reconnect_s;
  ok = ferry_run_follow_to_end (inv, remote, opt_host, opt_remote_dir, dir, run, &follow,
                                plan->outputs, opt_no_pull, c, error);
  ferry_remote_close (remote);
  return ok;
}

gboolean
ferry_builtin_run (int argc, char **argv, FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("TARGET... [-- SNAKEMAKE_ARGS...]");
  guint reconnect_s = 15 * 60;
  char **extra = NULL;

  g_option_context_set_summary (context, "Push the workflow and TARGET's inputs, start snakemake on the remote as a run\n"
                                         "that lives there (in a session of its own, recorded under DIR/.ferry/runs/ID),\n"
                                         "show its log live (kept in STATE-DIR/logs), pull the outputs, and exit with\n"
                                         "snakemake's status. A lost connection is retried; Ctrl-C only detaches\n"
                                         "(ferry attach follows the run again, ferry cancel stops it). Arguments after\n"
                                         "-- go to the remote snakemake; the local dry run that decides what to push\n"
                                         "takes only those that shape the jobs (--config, --forceall...; see ferry(1)),\n"
                                         "so a flag only the remote knows (--slurm-status-command) is fine.");
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
  if (opt_reconnect_timeout != NULL && !ferry_parse_duration (opt_reconnect_timeout, &reconnect_s))
    return ferry_usage_error (context, error, "--reconnect-timeout takes seconds, or a number with s, m or h (15m), not \"%s\"",
                              opt_reconnect_timeout);
  if (opt_max_interruptions < 0)
    return ferry_usage_error (context, error, "--max-interruptions takes a number, not %d", opt_max_interruptions);
  if (opt_notify != NULL && opt_host != NULL)
    return ferry_usage_error (context, error, "--notify sends through the deployment's SNS topic; it does not go with --host");
  if (opt_notify != NULL && !ferry_email_validate ("--notify", opt_notify, error))
    return FALSE;
  if (!ferry_invocation_open_state (inv, TRUE, FALSE, error))
    return FALSE;
  return run_targets (context, argc, argv, extra, reconnect_s, inv, c, error);
}

gboolean
ferry_run_again (FerryInvocation *inv, const char *const *targets, const char *cores, const char *then,
                 const char *notify, char **extra, const char *remote_dir, GCancellable *c, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("TARGET... [-- SNAKEMAKE_ARGS...]");
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;

  g_strv_builder_add (b, "run");
  g_strv_builder_addv (b, (const char **) targets);
  argv = g_strv_builder_end (b);
  g_free (opt_cores);
  opt_cores = g_strdup (cores);
  g_free (opt_then);
  opt_then = g_strdup (then);
  g_free (opt_notify);
  opt_notify = g_strdup (notify);
  g_free (opt_remote_dir);
  opt_remote_dir = g_strdup (remote_dir);
  return run_targets (context, (int) g_strv_length (argv), argv, extra, 15 * 60, inv, c, error);
}
