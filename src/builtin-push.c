/* ferry push: send the workflow and a target's inputs to the remote dir, only what changed. */
#include "ferry-builtins.h"
#include "core/remote.h"
#include "core/snakemake.h"

static char *opt_host;
static char *opt_remote_dir;
static gboolean opt_no_compress;
static char *opt_via;

static const GOptionEntry options[] = {
  { "host", 0, 0, G_OPTION_ARG_STRING, &opt_host, "Push to this host instead of the instance (no AWS)", "[USER@]HOST" },
  { "remote-dir", 0, 0, G_OPTION_ARG_STRING, &opt_remote_dir, "Directory on the remote (default ~/ferry/NAME)", "DIR" },
  { "via", 0, 0, G_OPTION_ARG_STRING, &opt_via, "Send through the store in the deployment's bucket (the default with bootstrap --bucket --iam; the instance reads it with its profile) or straight over ssh (s3 is the store too)", "store|ssh|s3" },
  { "no-compress", 0, 0, G_OPTION_ARG_NONE, &opt_no_compress, "Send uncompressed (fast links: the compression costs more than it saves)", NULL },
  { NULL }
};

gboolean
ferry_builtin_push (int argc, char **argv, FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("TARGET...");
  g_autoptr(FerryRemote) remote = NULL;
  g_autoptr(FerryPlan) plan = NULL;
  g_autoptr(GStrvBuilder) files = g_strv_builder_new ();
  g_auto(GStrv) list = NULL;
  g_autofree char *dir = NULL;
  FerryPushStats stats;
  gboolean ok;

  g_option_context_set_summary (context, "Send the workflow files and the existing inputs TARGET needs to the remote\n"
                                         "directory, streamed over ssh. Files the remote already has (same size and\n"
                                         "mtime) are not sent again.");
  if (!ferry_option_context_parse (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_CONNECT, c, error))
    return FALSE;
  if (argc < 2)
    return ferry_usage_error (context, error, "push needs at least one TARGET (see ferry push --help)");
  if (!ferry_invocation_open_state (inv, TRUE, FALSE, error))
    return FALSE;
  remote = ferry_builtin_remote (inv, opt_host, opt_remote_dir, &dir, error);
  if (remote == NULL)
    return FALSE;
  remote->compression = opt_no_compress ? g_strdup ("none") : NULL;
  if (!ferry_builtin_remote_via (inv, context, remote, opt_via, error))
    return FALSE;
  /* The handshake, the remote's answer and the store's listing overlap snakemake's dry run. */
  if (!inv->dry_run)
    ferry_remote_push_early (remote, dir, c);
  plan = ferry_snakemake_plan_remote ((const char *const *) argv + 1, NULL, c, error);
  if (plan == NULL)
    return FALSE;
  ferry_plan_note_outside (plan->outside);
  g_strv_builder_addv (files, (const char **) plan->workflow);
  g_strv_builder_addv (files, (const char **) plan->inputs);
  list = g_strv_builder_end (files);
  if (inv->dry_run)
    {
      for (guint i = 0; list[i] != NULL; i++)
        g_print ("would push %s\n", list[i]);
      return TRUE;
    }
  ok = ferry_remote_push (remote, dir, (const char *const *) list, &stats, c, error);
  ferry_remote_close (remote);
  if (!ok)
    return FALSE;
  {
    g_autofree char *summary = ferry_remote_push_summary (remote, dir, &stats);
    g_print ("%s\n", summary);
  }
  return TRUE;
}
